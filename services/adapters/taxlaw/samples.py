"""Sample requests shared by the two tax departments (their samples.py and tests): a licence the
fake business register knows, and one it does not."""

from __future__ import annotations

from typing import Any

from hall.v1 import approval_pb2, department_pb2
from services.adapters.sdk.settings import division_code
from services.adapters.taxlaw.fake_register import FakeBusinessRegister
from services.domain import identifiers

ORG = "MA654321" + identifiers.org_code_check_char("MA654321")
CREDIT = identifiers.build_credit_code("9", "1", division_code(), ORG)
UNKNOWN_ORG = "MA000999" + identifiers.org_code_check_char("MA000999")
COMPANIES = [department_pb2.Company(credit_code=CREDIT, name="东胜区样例有限公司", org_code=ORG, status="active")]


def neighbours() -> dict[str, list[Any]]:
    """The desks the tax departments call, as test doubles: the business register."""
    return {"business": [FakeBusinessRegister(COMPANIES)]}


def approvable(department: str) -> approval_pb2.SubApprovalRequest:
    return approval_pb2.SubApprovalRequest(department=department, step_id=department, matter_code="",
                                           upstream={"credit_code": CREDIT, "org_code": ORG,
                                                     "company_name": "东胜区样例有限公司"})


def refusable(department: str) -> approval_pb2.SubApprovalRequest:
    unknown = identifiers.build_credit_code("9", "1", division_code(), UNKNOWN_ORG)
    return approval_pb2.SubApprovalRequest(department=department, step_id=department,
                                           upstream={"credit_code": unknown, "org_code": UNKNOWN_ORG,
                                                     "company_name": "不存在的公司"})
