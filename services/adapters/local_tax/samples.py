"""Sample requests for the conformance suite and for tests."""

from __future__ import annotations

from hall.v1 import approval_pb2
from services.adapters import taxsamples

COMPANIES = taxsamples.COMPANIES


def approvable() -> approval_pb2.SubApprovalRequest:
    return taxsamples.approvable("local_tax")


def refusable() -> approval_pb2.SubApprovalRequest:
    return taxsamples.refusable("local_tax")
