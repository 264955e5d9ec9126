"""Sample applications and identifiers, as a clerk would enter them: for the tests, the benches
and `make demo` (the counter client holds client code only)."""

from __future__ import annotations

import uuid

from hall.v1 import common_pb2, intake_pb2
from services.adapters.sdk.testing import resident_id
from services.catalogue import load

DIVISION = load().proto.division_code
COMPANY_BUNDLE = f"{DIVISION}-YJS-0001"


def sample_resident_id(birth: str = "19880505", serial: str = "001", division: str = DIVISION) -> str:
    return resident_id(birth, int(serial), division)


def company_registration(company_name: str | None = None, *, request_id: str | None = None,
                         clerk_id: str = "clerk-0001") -> intake_pb2.SubmitApplicationRequest:
    """A complete company-registration bundle application, as a clerk would enter it."""
    # 48 random bits: a bench submits thousands, and two alike would be refused (NAME_TAKEN).
    suffix = uuid.uuid4().hex[:12].upper()
    rep_id = sample_resident_id()
    return intake_pb2.SubmitApplicationRequest(
        request_id=request_id or uuid.uuid4().hex,
        bundle_code=COMPANY_BUNDLE,
        applicant=common_pb2.Applicant(kind=common_pb2.Applicant.KIND_PERSON, name="王建军", id_number=rep_id,
                                       phone="13904770123"),
        materials=["M-GS-APPLY", "M-GS-ARTICLES", "M-ID-SHAREHOLDERS", "M-ID-LEGALREP", "M-GS-ADDRESS",
                   "M-ZJ-APPLY", "M-TAX-FORM"],
        fields={
            "company_name": company_name or f"东胜区鑫达{suffix}商贸有限公司",
            "registered_capital_fen": "50000000",
            "business_scope": "日用百货、五金交电销售",
            "legal_rep_name": "王建军",
            "legal_rep_id": rep_id,
            "address": "鄂尔多斯市东胜区天骄北路1号",
        },
        clerk_id=clerk_id,
    )
