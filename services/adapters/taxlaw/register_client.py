"""The tax departments' client of the business register: the business department's published
contract `hall.v1.BusinessRegisterService` (protos/hall/v1/department.proto), served by its desk.
Nothing of the business adapter's own code is imported."""

from __future__ import annotations

from typing import Any

from hall.v1 import department_pb2
from services.adapters.sdk.neighbours import Neighbour, NeighbourUnavailable
from services.runtime import context


class BusinessRegisterClient:
    def __init__(self, address: str, timeout_s: float) -> None:
        self._desk = Neighbour(address, timeout_s)
        self.address = address

    def _stub(self) -> Any:
        # Loaded on first use: an adapter process imports grpcio only once it calls a neighbour.
        from hall.v1 import department_pb2_grpc

        return self._desk.stub(department_pb2_grpc.BusinessRegisterServiceStub)

    def _call(self, stub: Any, credit_code: str, metadata: tuple[tuple[str, str], ...]) -> department_pb2.Company | None:
        import grpc

        try:
            company: department_pb2.Company = stub.GetCompany(
                department_pb2.GetCompanyRequest(credit_code=credit_code), timeout=self._desk.timeout_s,
                metadata=metadata, wait_for_ready=True).company
            return company
        except grpc.RpcError as err:
            if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise NeighbourUnavailable(f"business register at {self.address}: {err.code().name}") from None

    def _call_many(self, stub: Any, queries: list[department_pb2.CompanyQuery]) -> dict[str, department_pb2.Company]:
        import grpc

        try:
            response = stub.GetCompanies(department_pb2.GetCompaniesRequest(queries=queries),
                                         timeout=self._desk.timeout_s, wait_for_ready=True)
            return dict(response.companies)
        except grpc.RpcError as err:
            raise NeighbourUnavailable(f"business register at {self.address}: {err.code().name}") from None

    def company(self, credit_code: str) -> department_pb2.Company | None:
        """The register's record of `credit_code`, None when it has none."""
        # The stub is made here, in the calling greenlet (see Neighbour.stub); the call runs in the
        # pool. The case and actor travel along, so the register's record of the call joins the
        # case's timeline.
        return self._desk.call(self._call, self._stub(), credit_code,  # type: ignore[no-any-return]
                               tuple(context.to_headers().items()))

    def companies(self, queries: list[department_pb2.CompanyQuery]) -> dict[str, department_pb2.Company]:
        """The register's records of several credit codes in one call, by code (a code it does not
        hold is absent). Each query names its case: the register records the lookup in that
        case's timeline. The codes must be valid (else NeighbourUnavailable: INVALID_ARGUMENT)."""
        if not queries:
            return {}
        return self._desk.call(self._call_many, self._stub(), queries)  # type: ignore[no-any-return]
