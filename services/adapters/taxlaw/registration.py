"""The tax registration rule.

The tax registration number of the period is the division code followed by the organisation
code (15 characters); the organisation code must be the one inside the credit code, and the
licence must be in the business register and active (once-only, 信息共享: looked up, not taken
on trust).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import String, bindparam
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from hall.v1 import approval_pb2, department_pb2
from services.adapters.sdk import Decision, Department, Reason
from services.adapters.sdk.settings import DepartmentSettings
from services.adapters.taxlaw.register_client import BusinessRegisterClient
from services.domain import identifiers
from services.runtime import clock
from services.runtime.db import UTCDateTime


@cache
def registration_model(code: str) -> type:
    """The register table of the tax department `code`: `<code>_registrations`."""
    class RegisterBase(DeclarativeBase):
        pass

    class Registration(RegisterBase):
        __tablename__ = f"{code}_registrations"

        credit_code: Mapped[str] = mapped_column(String(18), primary_key=True)
        tax_registration_number: Mapped[str] = mapped_column(String(20), unique=True)
        org_code: Mapped[str] = mapped_column(String(9))
        company_name: Mapped[str] = mapped_column(String(200))
        case_id: Mapped[str] = mapped_column(String(40), unique=True)
        registered_at: Mapped[datetime] = mapped_column(UTCDateTime)

    return Registration


def create_registration_table(code: str) -> None:
    """For the department's first Alembic revision."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        f"{code}_registrations",
        sa.Column("credit_code", sa.String(18), primary_key=True),
        sa.Column("tax_registration_number", sa.String(20), nullable=False, unique=True),
        sa.Column("org_code", sa.String(9), nullable=False),
        sa.Column("company_name", sa.String(200), nullable=False),
        sa.Column("case_id", sa.String(40), nullable=False, unique=True),
        sa.Column("registered_at", UTCDateTime, nullable=False),
    )


class TaxRegistration(Department):
    """A tax department subclasses this with its `code`, `name` and `migrations`. It hands on its
    number as `<code>_registration`; its register table is `registration_model(code)`."""

    def __init__(self, settings: DepartmentSettings, register: BusinessRegisterClient | None = None) -> None:
        super().__init__(settings)
        self.register = register or BusinessRegisterClient(settings.neighbour("business"), settings.neighbour_timeout_s)
        # Every tax registration runs these: built once, run on the transaction's connection.
        table = registration_model(self.code).__table__  # type: ignore[attr-defined]
        self._existing = table.select().where(table.c.credit_code == bindparam("credit_code"))
        self._insert = table.insert()

    @property
    def result_key(self) -> str:
        return f"{self.code}_registration"

    def prepare(self, requests: list[approval_pb2.SubApprovalRequest]) -> dict[str, department_pb2.Company | None]:
        """The batch's licences from the business register in one call: code -> record (None: the
        register does not hold it). Each lookup is recorded in its own case's timeline."""
        queries = [department_pb2.CompanyQuery(credit_code=code, case_id=r.case_id, actor_id=r.clerk_id)
                   for r in requests if (code := _credit_code(r.upstream.get("credit_code", "")))]
        found = self.register.companies(queries)
        return {q.credit_code: found.get(q.credit_code) for q in queries}

    def _company(self, credit_code: str, register: Session) -> department_pb2.Company | None:
        prepared = self.prepared(register)
        if prepared is not None and credit_code in prepared:
            return prepared[credit_code]  # type: ignore[no-any-return]
        return self.register.company(credit_code)

    def decide(self, request: approval_pb2.SubApprovalRequest, register: Session) -> Decision:
        up = request.upstream
        try:
            credit_code = identifiers.validate_credit_code(up.get("credit_code", ""))
        except identifiers.InvalidIdentifier as exc:
            return Decision.refuse(Reason("CREDIT_CODE_INVALID", f"营业执照上的{exc}", "credit_code"))
        org_code = up.get("org_code", "")
        if org_code != credit_code[8:17]:
            return Decision.refuse(Reason("ORG_CODE_MISMATCH", "组织机构代码与统一社会信用代码不一致", "org_code"))
        company = self._company(credit_code, register)
        if company is None:
            return Decision.refuse(Reason("LICENCE_NOT_REGISTERED", "登记机关的登记簿中没有该营业执照，不予税务登记", "credit_code"))
        if company.status != "active":
            return Decision.refuse(Reason("LICENCE_NOT_ACTIVE", "该营业执照已注销或吊销，不予税务登记", "credit_code"))
        if company.org_code != org_code:
            return Decision.refuse(Reason("ORG_CODE_MISMATCH", "组织机构代码与登记簿记载不一致", "org_code"))
        conn = register.connection()
        existing = conn.execute(self._existing, {"credit_code": credit_code}).first()
        if existing is not None:
            if existing.case_id != request.case_id:
                return Decision.refuse(Reason("ALREADY_REGISTERED", "该纳税人已办理税务登记，不得重复登记"))
            return Decision.approve(**{self.result_key: existing.tax_registration_number})
        number = f"{self.settings.division_code}{org_code}"
        conn.execute(self._insert, {"credit_code": credit_code, "tax_registration_number": number,
                                    "org_code": org_code, "company_name": company.name,
                                    "case_id": request.case_id, "registered_at": clock.now()})
        return Decision.approve(**{self.result_key: number})


def _credit_code(code: str) -> str:
    """The valid credit code, or "" (decide refuses the request)."""
    try:
        return identifiers.validate_credit_code(code)
    except identifiers.InvalidIdentifier:
        return ""
