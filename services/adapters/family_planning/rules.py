"""Birth registration (生育登记), decided on the spot (即办件) under the policy of the day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall.v1 import approval_pb2
from services.adapters.family_planning.policy import policy_on
from services.adapters.family_planning.register import BirthRegistration
from services.adapters.sdk import Decision, Department, Reason
from services.domain import identifiers
from services.runtime import clock


class FamilyPlanning(Department):
    code = "family_planning"
    name = "人口和计划生育局"
    migrations = Path(__file__).with_name("migrations")

    def decide(self, request: approval_pb2.SubApprovalRequest, register: Session) -> Decision:
        done = register.scalar(select(BirthRegistration).where(BirthRegistration.case_id == request.case_id))
        if done is not None:
            return Decision.approve(registration_number=done.registration_number)
        f = dict(request.fields)
        today = clock.today()
        reasons: list[Reason] = []
        applicant_id = request.applicant.id_number
        spouse_id = f.get("spouse_id", "")
        try:
            spouse_id = identifiers.validate_resident_id(spouse_id)
            if spouse_id == applicant_id:
                reasons.append(Reason("SPOUSE_IS_APPLICANT", "配偶身份号码不能与申请人相同", "spouse_id"))
        except identifiers.InvalidIdentifier as exc:
            reasons.append(Reason("SPOUSE_ID_INVALID", f"配偶{exc}", "spouse_id"))
        if not f.get("spouse_name", "").strip():
            reasons.append(Reason("SPOUSE_NAME_MISSING", "配偶姓名不能为空", "spouse_name"))
        try:
            married = dt.date.fromisoformat(f.get("marriage_date", ""))
            if married > today:
                reasons.append(Reason("MARRIAGE_DATE_FUTURE", "结婚登记日期晚于今天", "marriage_date"))
        except ValueError:
            reasons.append(Reason("MARRIAGE_DATE_INVALID", "结婚登记日期格式应为 YYYY-MM-DD", "marriage_date"))
        raw_order = f.get("child_order", "").strip()
        order = int(raw_order) if raw_order.isdigit() else 0
        policy = policy_on(today)
        if order < 1:
            reasons.append(Reason("CHILD_ORDER_INVALID", "生育子女孩次应为正整数", "child_order"))
        elif order > policy.children_registered_on_the_spot:
            reasons.append(Reason("CHILD_ORDER_BEYOND_POLICY",
                                  f"依据{policy.basis}，窗口可当场登记至第{policy.children_registered_on_the_spot}孩；"
                                  "本次须按再生育审批办理", "child_order"))
        if not reasons and register.scalar(select(BirthRegistration.registration_number).where(
                BirthRegistration.applicant_id == applicant_id, BirthRegistration.child_order == order)):
            reasons.append(Reason("ALREADY_REGISTERED", f"第{order}孩已办理生育登记，不得重复登记", "child_order"))
        if reasons:
            return Decision.refuse(*reasons)
        number = f"生登{request.case_id}"
        register.add(BirthRegistration(registration_number=number, case_id=request.case_id,
                                       applicant_id=applicant_id, spouse_id=spouse_id, child_order=order,
                                       policy_basis=policy.basis, registered_at=clock.now()))
        register.flush()
        return Decision.approve(registration_number=number, policy_basis=policy.basis)
