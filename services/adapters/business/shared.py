"""The business register's read-only gRPC service (信息共享), served by the business desk process."""

from __future__ import annotations

from typing import Any

import grpc
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import department_pb2, department_pb2_grpc
from services.adapters.business.register import Company
from services.domain import identifiers
from services.runtime import clock
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.grpc_server import served_case

# Built once and run on a plain connection: every tax registration asks them.
_COLUMNS = (Company.credit_code, Company.name, Company.licence_number, Company.org_code, Company.legal_rep_name,
            Company.status, Company.registered_at)
_COMPANY = select(*_COLUMNS).where(Company.credit_code == bindparam("code"))
_COMPANIES = select(*_COLUMNS).where(Company.credit_code.in_(bindparam("codes", expanding=True)))
MAX_QUERIES = 1000


class BusinessRegisterServicer(department_pb2_grpc.BusinessRegisterServiceServicer):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        # A single read needs no transaction: no BEGIN and no ROLLBACK round trip around it.
        self._engine = sessions.kw["bind"].execution_options(isolation_level="AUTOCOMMIT")

    def GetCompany(self, request: department_pb2.GetCompanyRequest, context: grpc.ServicerContext) -> department_pb2.GetCompanyResponse:
        try:
            code = identifiers.validate_credit_code(request.credit_code)
        except identifiers.InvalidIdentifier as exc:
            raise InvalidArgument(str(exc), violations=[("credit_code", str(exc))]) from None
        with self._engine.connect() as conn:
            company = conn.execute(_COMPANY, {"code": code}).first()
        if company is None:
            raise NotFound(f"no company {code} in the register", resource_type="hall.v1.Company", resource_name=code)
        return department_pb2.GetCompanyResponse(company=_to_proto(company))

    def GetCompanies(self, request: department_pb2.GetCompaniesRequest,
                     context: grpc.ServicerContext) -> department_pb2.GetCompaniesResponse:
        """Several licences in one read; each query's case gets the lookup in its timeline."""
        if len(request.queries) > MAX_QUERIES:
            raise InvalidArgument(f"at most {MAX_QUERIES} queries in one call",
                                  violations=[("queries", f"{len(request.queries)} queries; at most {MAX_QUERIES}")])
        violations, codes = [], []
        for i, query in enumerate(request.queries):
            try:
                codes.append(identifiers.validate_credit_code(query.credit_code))
            except identifiers.InvalidIdentifier as exc:
                violations.append((f"queries[{i}].credit_code", str(exc)))
        if violations:
            raise InvalidArgument(f"{len(violations)} invalid credit code(s)", violations=violations)
        found: dict[str, department_pb2.Company] = {}
        if codes:
            with self._engine.connect() as conn:
                found = {row.credit_code: _to_proto(row) for row in conn.execute(_COMPANIES, {"codes": sorted(set(codes))})}
        for query, code in zip(request.queries, codes, strict=True):
            if query.case_id:
                served_case(query.case_id, query.actor_id, "OK" if code in found else "NOT_FOUND")
        return department_pb2.GetCompaniesResponse(companies=found)


def _to_proto(company: Any) -> department_pb2.Company:
    return department_pb2.Company(
        credit_code=company.credit_code, name=company.name, licence_number=company.licence_number,
        org_code=company.org_code, legal_rep_name=company.legal_rep_name, status=company.status,
        registered_at=clock.to_timestamp(company.registered_at))
