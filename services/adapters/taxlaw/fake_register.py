"""A stand-in for the business register (hall.v1.BusinessRegisterService) answering from a list,
for the tax departments' tests and conformance samples: the register is the business
department's desk, and a tax test need not run it."""

from __future__ import annotations

from typing import Any

from hall.v1 import department_pb2, department_pb2_grpc


class FakeBusinessRegister(department_pb2_grpc.BusinessRegisterServiceServicer):
    def __init__(self, companies: list[department_pb2.Company]) -> None:
        self._by_code = {c.credit_code: c for c in companies}

    def GetCompany(self, request: Any, context: Any) -> department_pb2.GetCompanyResponse:
        import grpc

        company = self._by_code.get(request.credit_code)
        if company is None:
            context.abort(grpc.StatusCode.NOT_FOUND, "no such company")
        return department_pb2.GetCompanyResponse(company=company)

    def GetCompanies(self, request: Any, context: Any) -> department_pb2.GetCompaniesResponse:
        asked = {q.credit_code for q in request.queries}
        return department_pb2.GetCompaniesResponse(
            companies={code: c for code, c in self._by_code.items() if code in asked})


class InMemoryRegister:
    """A BusinessRegisterClient's stand-in for rules tests run without a desk."""

    def __init__(self, companies: list[department_pb2.Company]) -> None:
        self._by_code = {c.credit_code: c for c in companies}

    def company(self, credit_code: str) -> department_pb2.Company | None:
        return self._by_code.get(credit_code)

    def companies(self, queries: list[department_pb2.CompanyQuery]) -> dict[str, department_pb2.Company]:
        return {q.credit_code: self._by_code[q.credit_code] for q in queries if q.credit_code in self._by_code}
