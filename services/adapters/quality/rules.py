"""Organisation code certificates: the code is the one inside the credit code (GB 32100 / GB 11714)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from hall.v1 import approval_pb2
from services.adapters.quality.register import Certificate
from services.adapters.sdk import Decision, Department, Reason
from services.domain import identifiers
from services.runtime import clock


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
        existing = register.get(Certificate, org_code)
        if existing is not None:
            if existing.case_id != request.case_id:
                return Decision.refuse(Reason("ALREADY_CERTIFIED", f"组织机构代码{identifiers.format_org_code(org_code)}已办理证书，不得重复办理"))
            cert = existing
        else:
            issued = clock.now()
            cert = Certificate(org_code=org_code, credit_code=credit_code, company_name=company_name,
                               certificate_number=f"代码证字{issued.astimezone(clock.SHANGHAI):%Y}-{org_code}",
                               case_id=request.case_id, issued_at=issued)
            register.add(cert)
        return Decision.approve(org_code=org_code, org_code_certificate=cert.certificate_number)
