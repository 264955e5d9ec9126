"""Sample requests for the conformance suite and for tests."""

from __future__ import annotations

from hall.v1 import approval_pb2

ORDINARY = {"project_name": "天骄花园3号楼", "builder_name": "东胜区某置业有限公司", "parcel_id": "DS-2026-001",
            "land_use": "R2", "plot_ratio_x100": "180", "height_cm": "2100"}


def approvable() -> approval_pb2.SubApprovalRequest:
    return approval_pb2.SubApprovalRequest(department="planning", step_id="main", matter_code="150602-GH-0001",
                                           fields=ORDINARY)


def refusable() -> approval_pb2.SubApprovalRequest:
    return approval_pb2.SubApprovalRequest(department="planning", step_id="main", matter_code="150602-GH-0001",
                                           fields={**ORDINARY, "land_use": "M1"})
