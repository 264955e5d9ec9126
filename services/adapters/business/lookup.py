"""Client of the business register for other departments (tax verifies the licence here instead
of trusting the request). In an adapter process (eventlet) the call runs in eventlet's thread
pool with a deadline, so it never blocks the other workers."""

from __future__ import annotations

import os
from typing import Any

from hall.v1 import department_pb2
from services.runtime import context


class RegisterUnavailable(RuntimeError):
    """The business register did not answer in time: a technical failure, retried by the router."""


class BusinessRegisterClient:
    """Calls wait for the register's channel to be ready, up to their deadline
    (BUSINESS_REGISTER_TIMEOUT_SECONDS), instead of failing at once while it reconnects: right after
    the register comes back the channel may still be in its reconnect backoff (up to 2 s), and a
    step an operator retries then would fail again for nothing (found by tests/e2e/test_incidents.py
    on a slow host). While the register is down a lookup fails after its deadline."""

    def __init__(self, address: str | None = None, timeout_s: float | None = None) -> None:
        self.address = address or os.environ.get("BUSINESS_REGISTER_ADDR", "127.0.0.1:50061")
        self.timeout_s = timeout_s or float(os.environ.get("BUSINESS_REGISTER_TIMEOUT_SECONDS", "3"))
        self._stub: Any = None
        self._green_lock: Any = None

    def _connect(self) -> None:
        # grpcio is loaded on first use only (an adapter process hosts no gRPC server), and in the
        # calling greenlet, never inside a pool thread: importing registers loggers under the
        # logging module's lock, which eventlet has made green.
        import grpc

        from hall.v1 import department_pb2_grpc
        from services.runtime.grpc_client import CHANNEL_OPTIONS

        if self._stub is None:
            self._stub = department_pb2_grpc.BusinessRegisterServiceStub(
                grpc.insecure_channel(self.address, options=CHANNEL_OPTIONS))

    def _call(self, credit_code: str, metadata: tuple[tuple[str, str], ...]) -> department_pb2.Company | None:
        import grpc

        try:
            company: department_pb2.Company = self._stub.GetCompany(
                department_pb2.GetCompanyRequest(credit_code=credit_code), timeout=self.timeout_s,
                metadata=metadata, wait_for_ready=True).company
            return company
        except grpc.RpcError as err:
            if err.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise RegisterUnavailable(f"business register at {self.address}: {err.code().name}") from None

    def _call_many(self, queries: list[department_pb2.CompanyQuery]) -> dict[str, department_pb2.Company]:
        import grpc

        try:
            response = self._stub.GetCompanies(department_pb2.GetCompaniesRequest(queries=queries),
                                               timeout=self.timeout_s, wait_for_ready=True)
            return dict(response.companies)
        except grpc.RpcError as err:
            raise RegisterUnavailable(f"business register at {self.address}: {err.code().name}") from None

    def company(self, credit_code: str) -> department_pb2.Company | None:
        """The register's record of `credit_code`, None when it has none."""
        self._connect()
        # The case and actor travel along, so the register's record of the call joins the case's timeline.
        return self._in_pool(self._call, credit_code, tuple(context.to_headers().items()))  # type: ignore[no-any-return]

    def companies(self, queries: list[department_pb2.CompanyQuery]) -> dict[str, department_pb2.Company]:
        """The register's records of several credit codes in one call, by code (a code it does not
        hold is absent). Each query names its case: the register records the lookup in that
        case's timeline. The codes must be valid (else RegisterUnavailable: INVALID_ARGUMENT)."""
        if not queries:
            return {}
        self._connect()
        return self._in_pool(self._call_many, queries)  # type: ignore[no-any-return]

    def _in_pool(self, call: Any, *args: Any) -> Any:
        """In an eventlet process the call runs in eventlet's pool of real threads (tpool) so it never
        blocks the hub, one call at a time: grpcio's Python layer uses `threading` primitives, which
        eventlet has turned green, and two real threads contending for one of them would have to
        switch greenlets across threads (greenlet.error: Cannot switch to a different thread).
        """
        try:
            from eventlet import patcher, semaphore, tpool
        except ImportError:
            return call(*args)
        if not patcher.is_monkey_patched("thread"):
            return call(*args)
        if self._green_lock is None:
            self._green_lock = semaphore.Semaphore(1)
        with self._green_lock:
            return tpool.execute(call, *args)
