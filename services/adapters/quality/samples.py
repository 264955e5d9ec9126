"""Sample requests for the conformance suite and for tests."""

from __future__ import annotations

from hall.v1 import approval_pb2
from services.adapters.sdk.settings import division_code
from services.domain import identifiers

ORG = "MA123456" + identifiers.org_code_check_char("MA123456")
CREDIT = identifiers.build_credit_code("9", "1", division_code(), ORG)


def approvable() -> approval_pb2.SubApprovalRequest:
    return approval_pb2.SubApprovalRequest(department="quality", step_id="org_code", matter_code="150602-ZJ-0001",
                                           upstream={"credit_code": CREDIT, "company_name": "东胜区样例有限公司"})


def refusable() -> approval_pb2.SubApprovalRequest:
    return approval_pb2.SubApprovalRequest(department="quality", step_id="org_code", matter_code="150602-ZJ-0001",
                                           upstream={"credit_code": CREDIT[:-1] + "0" if CREDIT[-1] != "0" else CREDIT[:-1] + "1",
                                                     "company_name": "东胜区样例有限公司"})
