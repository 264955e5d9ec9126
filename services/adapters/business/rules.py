"""Business registration rules: name, capital, scope, legal representative; then the codes.

Issues the unified social credit code (GB 32100: authority 9 工商, category 1 企业, the division,
the organisation code (GB 11714) and the check character) and the 15-digit registration number.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, select
from sqlalchemy.orm import Session

from hall.v1 import approval_pb2
from services.adapters.business.register import Company, Sequence
from services.adapters.sdk import Decision, Department, Reason
from services.domain import identifiers
from services.runtime import clock, db

FORM_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司")
# Words a district-level registrar may not grant without the State Administration's approval,
# and words no name may carry. (企业名称登记管理规定 第十一条、第十二条)
RESTRICTED_WORDS = ("中国", "中华", "全国", "国家", "国际")
FORBIDDEN_WORDS = ("党", "军", "赌", "毒", "色情", "迷信")
MAX_NAME_LENGTH = 50

# Every licence runs these: statements built once, on the transaction's connection (no ORM objects).
_companies = cast(Table, Company.__table__)
# In one round trip: this case's company (registered by an earlier attempt) and the name's holder.
_CASE_OR_NAME = select(_companies.c.credit_code, _companies.c.licence_number, _companies.c.name,
                       _companies.c.case_id).where(or_(_companies.c.case_id == bindparam("case_id"),
                                                       _companies.c.name == bindparam("name")))
_INSERT_COMPANY = _companies.insert()
# The division's next serial, gapless (a rolled-back licence gives its serial back).
_NEXT_SERIAL = db.next_number(cast(Table, Sequence.__table__), "division", "last")


class BusinessRegistration(Department):
    code = "business"
    name = "工商行政管理局"
    migrations = Path(__file__).with_name("migrations")

    def decide(self, request: approval_pb2.SubApprovalRequest, register: Session) -> Decision:
        f = request.fields
        name = f.get("company_name", "").strip()
        conn = register.connection()
        known = conn.execute(_CASE_OR_NAME, {"case_id": request.case_id, "name": name}).all()
        done = next((c for c in known if c.case_id == request.case_id), None)
        if done is not None:  # this case was registered already (e.g. by an earlier attempt)
            return Decision.approve(credit_code=done.credit_code, licence_number=done.licence_number,
                                    company_name=done.name)
        reasons: list[Reason] = []
        reasons += check_name(name)
        if name and not reasons and any(c.name == name for c in known):
            reasons.append(Reason("NAME_TAKEN", f"企业名称“{name}”已被登记，请更换名称", "company_name"))
        capital_raw = f.get("registered_capital_fen", "").strip()
        capital = int(capital_raw) if capital_raw.isdigit() else -1
        if capital <= 0:
            reasons.append(Reason("CAPITAL_INVALID", "注册资本应为大于零的整数（单位：分）", "registered_capital_fen"))
        if not f.get("business_scope", "").strip():
            reasons.append(Reason("SCOPE_MISSING", "经营范围不能为空", "business_scope"))
        if not f.get("legal_rep_name", "").strip():
            reasons.append(Reason("LEGAL_REP_NAME_MISSING", "法定代表人姓名不能为空", "legal_rep_name"))
        legal_rep_id = f.get("legal_rep_id", "")
        try:
            legal_rep_id = identifiers.validate_resident_id(legal_rep_id)
            if age_on(legal_rep_id, clock.today()) < 18:
                reasons.append(Reason("LEGAL_REP_MINOR", "法定代表人应为年满十八周岁的完全民事行为能力人", "legal_rep_id"))
        except identifiers.InvalidIdentifier as exc:
            reasons.append(Reason("LEGAL_REP_ID_INVALID", f"法定代表人{exc}", "legal_rep_id"))
        if reasons:
            return Decision.refuse(*reasons)

        serial = self._next_serial(register)
        body = f"MA{serial:06d}"
        org_code = body + identifiers.org_code_check_char(body)
        credit_code = identifiers.build_credit_code("9", "1", self.settings.division_code, org_code)
        licence_number = identifiers.build_registration_number(self.settings.division_code, serial)
        # A concurrent registration of the same name fails here (unique name), and is retried.
        conn.execute(_INSERT_COMPANY, {
            "credit_code": credit_code, "name": name, "licence_number": licence_number, "org_code": org_code,
            "registered_capital_fen": capital, "business_scope": f["business_scope"].strip(),
            "legal_rep_name": f["legal_rep_name"].strip(), "legal_rep_id": legal_rep_id,
            "address": f.get("address", "").strip(), "case_id": request.case_id, "registered_at": clock.now(),
            "status": "active"})
        return Decision.approve(credit_code=credit_code, licence_number=licence_number, company_name=name)

    def _next_serial(self, register: Session) -> int:
        conn = register.connection()
        serial: int = conn.execute(_NEXT_SERIAL[conn.dialect.name], {"key": self.settings.division_code}).scalar_one()
        return serial

    def register_shared_services(self, server: Any, sessions: Any) -> list[str]:
        from hall.v1 import department_pb2_grpc
        from services.adapters.business.shared import BusinessRegisterServicer
        from services.runtime.grpc_server import add_servicer

        return [add_servicer(server, BusinessRegisterServicer(sessions), department_pb2_grpc)]

    def cancel(self, request_case_id: str, step_id: str, register: Session) -> None:
        # A licence issued for a case that was then refused elsewhere stays valid in law until the
        # company deregisters; the register marks it so the clerk can follow up.
        company = register.scalar(select(Company).where(Company.case_id == request_case_id))
        if company is not None and company.status == "active":
            company.status = "case_cancelled"


def check_name(name: str) -> list[Reason]:
    if not name:
        return [Reason("NAME_MISSING", "企业名称不能为空", "company_name")]
    reasons = []
    if len(name) > MAX_NAME_LENGTH:
        reasons.append(Reason("NAME_TOO_LONG", f"企业名称不得超过{MAX_NAME_LENGTH}个字", "company_name"))
    if not name.endswith(FORM_SUFFIXES):
        reasons.append(Reason("NAME_FORM_SUFFIX", "企业名称应以组织形式结尾，如“有限公司”或“股份有限公司”", "company_name"))
    for word in RESTRICTED_WORDS:
        if word in name:
            reasons.append(Reason("NAME_RESTRICTED_WORD", f"企业名称含有“{word}”，须经国家市场监督管理总局核准，本级不予登记", "company_name"))
    for word in FORBIDDEN_WORDS:
        if word in name:
            reasons.append(Reason("NAME_FORBIDDEN_WORD", f"企业名称不得含有“{word}”字样", "company_name"))
    return reasons


def age_on(resident_id: str, today: dt.date) -> int:
    born = dt.date(int(resident_id[6:10]), int(resident_id[10:12]), int(resident_id[12:14]))
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
