"""The words the feed and the screens use: names of departments and matters, outcomes."""

from __future__ import annotations

from hall.v1 import approval_pb2, common_pb2
from services.catalogue import Catalogue
from services.supervision.models import CaseRow

CASE_OUTCOME: dict[int, str] = {approval_pb2.CASE_STATUS_COMPLETED: "准予办理", approval_pb2.CASE_STATUS_REFUSED: "不予办理",
                approval_pb2.CASE_STATUS_WITHDRAWN: "申请人撤回"}
STEP_OUTCOME: dict[int, str] = {common_pb2.STEP_STATUS_APPROVED: "办结", common_pb2.STEP_STATUS_REFUSED: "不予办理",
                common_pb2.STEP_STATUS_CANCELLED: "撤销办理"}


def department_name(catalogue: Catalogue, code: str) -> str:
    if not code:
        return "政务服务中心"
    found = catalogue.departments.get(code)
    return found.name if found is not None else code


def matter_name(catalogue: Catalogue, case: CaseRow) -> str:
    if case.bundle_code and case.bundle_code in catalogue.bundles:
        return catalogue.bundles[case.bundle_code].name
    matter = catalogue.matters.get(case.matter_code)
    return matter.name if matter is not None else case.matter_code
