from hypothesis import given
from hypothesis import strategies as st

from services.catalogue import load
from services.catalogue.search import Index, tokens

INDEX = Index(load())
NAMES = {(m.code, m.name) for m in load().proto.matters} | {(b.code, b.name) for b in load().proto.bundles}


@given(st.sampled_from(sorted(NAMES)))
def test_a_matters_own_name_finds_it_first(named):
    code, name = named
    (first, *_) = INDEX.search(name)
    assert code in (first.doc.matter_code, first.doc.bundle_code)


@given(st.text(alphabet="的是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会",
               min_size=1, max_size=12))
def test_any_query_answers_ranked_hits_within_the_limit(query):
    hits = INDEX.search(query, limit=5)
    assert len(hits) <= 5 and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_full_width_and_case_are_one_token():
    assert tokens("ＧＳ-0001") == tokens("gs-0001")
