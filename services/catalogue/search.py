"""The kiosk's guide search (办事指南检索): ranked full-text search over the catalogue.

Chinese has no spaces, so text is cut into overlapping two-character pieces (bigrams: 企业开办 ->
企业 业开 开办), which finds a word wherever it sits and in any order of words (开办企业 finds
企业开办) with no dictionary to keep; single characters count a little, for one-character queries.
Latin words and codes are whole tokens. Scores are BM25 over weighted fields (the name counts most,
then the department and the certificate, then materials and conditions). A query in Latin letters
is also read as pinyin initials of the names (gsdj: 公司登记), with pypinyin.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from services.catalogue.loader import Catalogue

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*")
_K1, _B = 1.2, 0.75
_UNIGRAM_WEIGHT = 0.2
_INITIALS_SCORE = 6.0
_CODE_SCORE = 50.0
_RELEVANT = 0.2


def tokens(text: str) -> list[str]:
    """Bigrams (and, marked, the single characters) of the Chinese runs; Latin words whole."""
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for run in _CJK.findall(text):
        out += [run[i:i + 2] for i in range(len(run) - 1)] or [run]
        out += ["1:" + c for c in run]
    out += _WORD.findall(_CJK.sub(" ", text))
    return out


@dataclass
class Doc:
    matter_code: str
    bundle_code: str
    name: str
    department: str
    window_group: str
    fields: list[tuple[float, str]]  # (weight, text)
    initials: str = ""
    terms: dict[str, float] = field(default_factory=dict)
    length: float = 0.0


@dataclass(frozen=True)
class Hit:
    doc: Doc
    score: float
    matched: str


class Index:
    def __init__(self, catalogue: Catalogue) -> None:
        self.version = catalogue.version
        self.docs = _documents(catalogue)
        for doc in self.docs:
            for weight, text in doc.fields:
                for t in tokens(text):
                    doc.terms[t] = doc.terms.get(t, 0.0) + weight * (_UNIGRAM_WEIGHT if t.startswith("1:") else 1.0)
            doc.length = sum(doc.terms.values())
        self._avg = sum(d.length for d in self.docs) / max(1, len(self.docs))
        df = Counter(t for d in self.docs for t in d.terms)
        n = len(self.docs)
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        _add_initials(self.docs)

    def search(self, query: str, limit: int = 10) -> list[Hit]:
        q = unicodedata.normalize("NFKC", query).strip()
        wanted = Counter(tokens(q))
        letters = re.sub(r"[^a-z]", "", q.lower())
        # Single characters only rank what a piece of two already found (or a one-character query):
        # 火星移民 shares 民 with 居民 and nothing more.
        pieces = any(not t.startswith("1:") for t in wanted)
        hits = []
        for doc in self.docs:
            score = 0.0
            if not pieces or any(t in doc.terms for t in wanted if not t.startswith("1:")):
                for t in wanted:
                    tf = doc.terms.get(t, 0.0)
                    if tf:
                        norm = tf + _K1 * (1 - _B + _B * doc.length / self._avg)
                        score += self._idf[t] * tf * (_K1 + 1) / norm
            if q.upper() in (doc.matter_code, doc.bundle_code):
                score += _CODE_SCORE
            if len(letters) >= 2 and letters == q.lower().replace(" ", ""):
                score += _initials_score(letters, doc.initials)
            if score > 0:
                hits.append(Hit(doc, score, _matched(doc, wanted)))
        hits.sort(key=lambda h: (-h.score, h.doc.bundle_code == "", h.doc.matter_code or h.doc.bundle_code))
        # What only shares a character or two with the query is noise beside a real match.
        return [h for h in hits if h.score >= _RELEVANT * hits[0].score][:limit]


def _initials_score(letters: str, initials: str) -> float:
    """gsdj in 有限责任公司设立登记 (yxzrgssldj): in a row scores full, in order with gaps half."""
    if letters in initials:
        return _INITIALS_SCORE * (1 + len(letters) / max(len(initials), 1))
    rest = iter(initials)
    if len(letters) >= 3 and all(c in rest for c in letters):
        return _INITIALS_SCORE / 2
    return 0.0


def _matched(doc: Doc, wanted: Counter[str]) -> str:
    """The field text with most of the query's pieces (the kiosk shows why a matter came up)."""
    best, best_count = doc.name, 0
    for _, text in doc.fields:
        count = sum(1 for t in set(tokens(text)) if t in wanted and not t.startswith("1:"))
        if count > best_count:
            best, best_count = text, count
    return best


def _documents(catalogue: Catalogue) -> list[Doc]:
    depts = {code: d.name for code, d in catalogue.departments.items()}
    docs = []
    for m in catalogue.proto.matters:
        docs.append(Doc(
            matter_code=m.code, bundle_code="", name=m.name, department=depts.get(m.department, m.department),
            window_group=m.window_group,
            fields=[(4.0, m.name), (2.0, depts.get(m.department, "")), (3.0, m.result.certificate_name), (1.0, m.type),
                    *((1.0, x.name) for x in m.materials), *((0.5, c) for c in m.acceptance_conditions),
                    *((0.5, e) for e in m.eligible_applicants), *((0.3, b) for b in m.legal_basis)]))
    for b in catalogue.proto.bundles:
        matters = [catalogue.matters[s.matter] for s in b.steps]
        names = list(dict.fromkeys(depts.get(m.department, "") for m in matters))
        docs.append(Doc(
            matter_code="", bundle_code=b.code, name=b.name, department="、".join(names), window_group=b.window_group,
            fields=[(4.0, b.name), *((2.0, m.name) for m in matters), *((1.0, n) for n in names),
                    *((1.0, m.result.certificate_name) for m in matters)]))
    return docs


def _add_initials(docs: list[Doc]) -> None:
    from pypinyin import Style, lazy_pinyin  # its dictionary loads once, at start

    for doc in docs:
        doc.initials = "".join(p[:1] for p in lazy_pinyin(doc.name, style=Style.FIRST_LETTER, errors="ignore")).lower()
