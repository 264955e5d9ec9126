"""Construction planning permit (建设工程规划许可证, 城乡规划法 第四十条).

The project must fit its parcel's planning conditions: land use, plot ratio, building height.
A project within the conditions and of ordinary size (height <= 24 m, plot ratio <= 2.00) is
permitted on the spot; a larger one waits for the officer, who may first run an expert review or a
hearing (special procedures that pause the time limit, 行政许可法 第四十五条).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hall.v1 import approval_pb2
from services.adapters.planning.register import Parcel, Permit
from services.adapters.sdk import Decision, Department, Reason
from services.runtime import clock

ORDINARY_MAX_HEIGHT_CM = 2400
ORDINARY_MAX_PLOT_RATIO_X100 = 200


def _int(fields: dict[str, str], name: str) -> int | None:
    raw = fields.get(name, "").strip()
    return int(raw) if raw.isdigit() else None


class Planning(Department):
    code = "planning"
    name = "规划局"
    migrations = Path(__file__).with_name("migrations")

    def decide(self, request: approval_pb2.SubApprovalRequest, register: Session) -> Decision:
        f = dict(request.fields)
        existing = register.scalar(select(Permit).where(Permit.case_id == request.case_id))
        if existing is not None:
            return Decision.approve(permit_number=existing.permit_number)
        reasons: list[Reason] = []
        for name, label in (("project_name", "项目名称"), ("builder_name", "建设单位名称")):
            if not f.get(name, "").strip():
                reasons.append(Reason("FIELD_MISSING", f"{label}不能为空", name))
        ratio, height = _int(f, "plot_ratio_x100"), _int(f, "height_cm")
        if ratio is None:
            reasons.append(Reason("PLOT_RATIO_INVALID", "容积率应为整数（×100）", "plot_ratio_x100"))
        if height is None:
            reasons.append(Reason("HEIGHT_INVALID", "建筑高度应为整数（厘米）", "height_cm"))
        parcel = register.get(Parcel, f.get("parcel_id", "").strip())
        if parcel is None:
            reasons.append(Reason("PARCEL_UNKNOWN", "地块编号不存在，请核对规划条件通知书", "parcel_id"))
        else:
            if f.get("land_use", "").strip().upper() != parcel.land_use:
                reasons.append(Reason("LAND_USE_MISMATCH",
                                      f"拟建用途与地块规划用地性质（{parcel.land_use}）不符", "land_use"))
            if ratio is not None and ratio > parcel.max_plot_ratio_x100:
                reasons.append(Reason("PLOT_RATIO_EXCEEDED",
                                      f"容积率超过规划条件上限 {parcel.max_plot_ratio_x100 / 100:.2f}", "plot_ratio_x100"))
            if height is not None and height > parcel.max_height_cm:
                reasons.append(Reason("HEIGHT_EXCEEDED",
                                      f"建筑高度超过规划条件上限 {parcel.max_height_cm / 100:.0f} 米", "height_cm"))
        if reasons:
            return Decision.refuse(*reasons)
        assert ratio is not None and height is not None and parcel is not None
        if height > ORDINARY_MAX_HEIGHT_CM or ratio > ORDINARY_MAX_PLOT_RATIO_X100:
            return Decision.pending("高层或高强度开发项目：承办人审查，必要时组织专家评审或听证")
        year = clock.today().year
        serial = (register.scalar(select(func.count()).select_from(Permit)) or 0) + 1
        number = f"建字第{self.settings.division_code}{year}{serial:05d}号"
        register.add(Permit(permit_number=number, case_id=request.case_id, parcel_id=parcel.parcel_id,
                            project_name=f["project_name"].strip(), builder_name=f["builder_name"].strip(),
                            plot_ratio_x100=ratio, height_cm=height, issued_at=clock.now()))
        register.flush()  # two permits racing for one number: the loser fails here and is retried
        return Decision.approve(permit_number=number)
