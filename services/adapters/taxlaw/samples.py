"""Sample requests shared by the two tax departments (their samples.py and tests): a licence the
fake business register knows, and one it does not."""

from __future__ import annotations

from collections.abc import Callable
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


def for_department(department: str) -> tuple[Callable[[], approval_pb2.SubApprovalRequest],
                                             Callable[[], approval_pb2.SubApprovalRequest],
                                             Callable[[], dict[str, list[Any]]]]:
    """A tax department's samples.py: (approvable, refusable, neighbours) addressed to it."""
    return (lambda: approvable(department)), (lambda: refusable(department)), neighbours


def register_sample(make_core: Callable[..., Any], department: str) -> dict[str, str]:
    """The results of the approvable sample decided by `department`'s rules, the business register
    stood in for (for each tax department's own test)."""
    from services.adapters.sdk.testing import envelope, only_decision, request
    from services.adapters.taxlaw.fake_register import InMemoryRegister

    core = make_core(department, register=InMemoryRegister(COMPANIES))
    decision = only_decision(core.handle(envelope(request(department, department, like=approvable(department)))))
    assert decision.outcome == approval_pb2.OUTCOME_APPROVED, list(decision.reasons)
    return dict(decision.results)

