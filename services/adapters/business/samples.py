"""Sample requests for the conformance suite and for tests."""

from __future__ import annotations

import uuid

from hall.v1 import approval_pb2, common_pb2
from services.adapters.sdk.testing import resident_id


def _rep_id() -> str:
    return resident_id("19880505", 1)


def approvable() -> approval_pb2.SubApprovalRequest:
    return approval_pb2.SubApprovalRequest(
        department="business", step_id="licence", matter_code="150602-GS-0001",
        applicant=common_pb2.Applicant(kind=common_pb2.Applicant.KIND_PERSON, name="王建军", id_number=_rep_id()),
        fields={"company_name": f"东胜区样例{uuid.uuid4().hex[:12].upper()}商贸有限公司",
                "registered_capital_fen": "10000000", "business_scope": "日用百货销售",
                "legal_rep_name": "王建军", "legal_rep_id": _rep_id(), "address": "东胜区天骄北路1号"})


def refusable() -> approval_pb2.SubApprovalRequest:
    req = approvable()
    req.fields["company_name"] = "中国样例商贸"  # no form suffix, a word needing national approval
    return req
