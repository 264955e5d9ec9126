"""Personal data masked as the exchange tables print it; organisations' public data shown."""

from hypothesis import given
from hypothesis import strategies as st

from hall.v1 import common_pb2
from services.domain import masking
from tests.support.samples import sample_resident_id

PERSON, ORG = common_pb2.Applicant.KIND_PERSON, common_pb2.Applicant.KIND_ORGANISATION


def test_a_resident_id_keeps_its_region_and_its_last_four():
    rid = sample_resident_id(birth="19880505", serial="001")
    assert masking.id_number(PERSON, rid) == rid[:6] + "********" + rid[-4:]
    assert masking.name(PERSON, "欧阳娜娜") == "欧***"


def test_an_organisation_is_shown_in_full():
    assert masking.id_number(ORG, "91150602MA0000015E") == "91150602MA0000015E"
    assert masking.name(ORG, "东胜区某置业有限公司") == "东胜区某置业有限公司"


@given(st.text(alphabet="0123456789X", min_size=0, max_size=20))
def test_a_masked_number_never_shows_its_middle(number):
    masked = masking.id_number(PERSON, number)
    assert len(masked) == len(number)
    if len(number) > 10:
        assert masked[6:-4] == "*" * (len(number) - 10)
    else:
        assert set(masked) <= {"*"}
