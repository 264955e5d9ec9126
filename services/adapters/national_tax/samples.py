"""Sample requests for the conformance tests and this department's tests (services/adapters/taxlaw/samples.py)."""

from __future__ import annotations

from typing import Any

from hall.v1 import approval_pb2
from services.adapters.taxlaw import samples


def neighbours() -> dict[str, list[Any]]:
    return samples.neighbours()


def approvable() -> approval_pb2.SubApprovalRequest:
    return samples.approvable("national_tax")


def refusable() -> approval_pb2.SubApprovalRequest:
    return samples.refusable("national_tax")
