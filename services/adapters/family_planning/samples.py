"""Sample requests for the conformance suite and for tests."""

from __future__ import annotations

import random

from hall.v1 import approval_pb2, common_pb2
from services.adapters.sdk.testing import resident_id as _id


def approvable() -> approval_pb2.SubApprovalRequest:
    applicant = _id("19890707", random.randrange(100, 999))
    return approval_pb2.SubApprovalRequest(
        department="family_planning", step_id="main", matter_code="150602-JS-0001",
        applicant=common_pb2.Applicant(kind=common_pb2.Applicant.KIND_PERSON, name="张伟", id_number=applicant),
        fields={"spouse_name": "李梅", "spouse_id": _id("19900303", 22), "child_order": "1",
                "marriage_date": "2018-05-20"})


def refusable() -> approval_pb2.SubApprovalRequest:
    req = approvable()
    req.fields["child_order"] = "9"
    return req
