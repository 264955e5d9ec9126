"""Organisation code certificates: the code is the one inside the credit code (GB 32100 / GB 11714)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from sqlalchemy import Table, bindparam
from sqlalchemy.orm import Session

from hall.v1 import approval_pb2
from services.adapters.quality.register import Certificate
from services.adapters.sdk import Decision, Department, Reason
from services.domain import identifiers
from services.runtime import clock

# Every certificate runs these: built once, run on the transaction's connection (no ORM objects).
_certificates = cast(Table, Certificate.__table__)
_BY_ORG_CODE = _certificates.select().where(_certificates.c.org_code == bindparam("org_code"))
_INSERT = _certificates.insert()


class QualityInspection(Department):
    code = "quality"
    name = "质量技术监督局"
    migrations = Path(__file__).with_name("migrations")

    def decide(self, request: approval_pb2.SubApprovalRequest, register: Session) -> Decision:
        credit_code = request.upstream.get("credit_code", "")
        try:
            credit_code = identifiers.validate_credit_code(credit_code)
        except identifiers.InvalidIdentifier as exc:
            return Decision.refuse(Reason("CREDIT_CODE_INVALID", f"营业执照上的{exc}", "credit_code"))
        org_code = credit_code[8:17]
        company_name = request.upstream.get("company_name", "") or request.fields.get("company_name", "")
        if not company_name:
            return Decision.refuse(Reason("COMPANY_NAME_MISSING", "缺少机构名称，无法赋码", "company_name"))
        conn = register.connection()
        existing = conn.execute(_BY_ORG_CODE, {"org_code": org_code}).first()
        if existing is not None:
            if existing.case_id != request.case_id:
                return Decision.refuse(Reason("ALREADY_CERTIFIED", f"组织机构代码{identifiers.format_org_code(org_code)}已办理证书，不得重复办理"))
            return Decision.approve(org_code=org_code, org_code_certificate=existing.certificate_number)
        issued = clock.now()
        number = f"代码证字{clock.local(issued):%Y}-{org_code}"
        conn.execute(_INSERT, {"org_code": org_code, "credit_code": credit_code, "company_name": company_name,
                               "certificate_number": number, "case_id": request.case_id, "issued_at": issued})
        return Decision.approve(org_code=org_code, org_code_certificate=number)
