"""A small typed client over the suite's gRPC services, used by the CLI, the demo and tests.
Client code only: sample applications are test support (tests/support/samples.py)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import jwt
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from hall.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    auth_pb2,
    auth_pb2_grpc,
    common_pb2,
    fees_pb2,
    fees_pb2_grpc,
    inspection_pb2_grpc,
    intake_pb2,
    intake_pb2_grpc,
    queue_pb2_grpc,
    router_pb2,
    router_pb2_grpc,
    supervision_pb2_grpc,
)
from services.ports import PLATFORM_PORTS
from services.runtime import context
from services.runtime.grpc_client import channel


@dataclass
class Endpoints:
    intake: str = f"127.0.0.1:{PLATFORM_PORTS['intake']}"
    router: str = f"127.0.0.1:{PLATFORM_PORTS['router']}"
    fees: str = f"127.0.0.1:{PLATFORM_PORTS['fees']}"
    audit: str = f"127.0.0.1:{PLATFORM_PORTS['audit']}"
    supervision: str = f"127.0.0.1:{PLATFORM_PORTS['supervision']}"

    @classmethod
    def from_environment(cls) -> Endpoints:
        """HALL_HOST (default 127.0.0.1) and HALL_<SERVICE>_PORT (default services/ports.py)."""
        host = os.environ.get("HALL_HOST", "127.0.0.1")
        return cls(**{name: f"{host}:{os.environ.get(f'HALL_{name.upper()}_PORT', port)}"
                      for name, port in PLATFORM_PORTS.items()})


def token_file() -> Path:
    """Where `hall login` keeps the signed-in token (HALL_TOKEN_FILE, default ~/.config/hall/token)."""
    return Path(os.environ.get("HALL_TOKEN_FILE") or Path.home() / ".config" / "hall" / "token")


def saved_token() -> str:
    """The caller's token: HALL_TOKEN, else the file `hall login` wrote ("" if neither)."""
    if os.environ.get("HALL_TOKEN"):
        return os.environ["HALL_TOKEN"]
    try:
        return token_file().read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def subject_of(token: str) -> str:
    """Who a token names, read without verifying it (the services verify it; this is for display)."""
    try:
        return str(jwt.decode(token, options={"verify_signature": False}).get("sub", ""))
    except jwt.PyJWTError:
        return ""


class Counter:
    """The suite as one signed-in person sees it: every call carries `token` (default: the saved
    one, see `saved_token`)."""

    def __init__(self, endpoints: Endpoints, *, token: str | None = None) -> None:
        self.token = saved_token() if token is None else token
        self.clerk_id = subject_of(self.token)
        self._channels = [channel(endpoints.intake, token=self.token), channel(endpoints.fees, token=self.token),
                          channel(endpoints.audit, token=self.token), channel(endpoints.router, token=self.token),
                          channel(endpoints.supervision, token=self.token)]
        self.endpoints = endpoints
        self.intake = intake_pb2_grpc.IntakeServiceStub(self._channels[0])
        self.queue = queue_pb2_grpc.QueueServiceStub(self._channels[0])  # served by intake
        self.fees = fees_pb2_grpc.FeesServiceStub(self._channels[1])
        self.audit = audit_pb2_grpc.AuditServiceStub(self._channels[2])
        self.router = router_pb2_grpc.RouterServiceStub(self._channels[3])
        self.supervision = supervision_pb2_grpc.SupervisionServiceStub(self._channels[4])
        self.inspection = inspection_pb2_grpc.InspectionServiceStub(self._channels[4])
        self.auth = auth_pb2_grpc.AuthServiceStub(self._channels[0])  # served by intake

    def channel_of(self, service: str) -> grpc.Channel:
        """The channel to a service of the suite (intake, fees, audit, router, supervision)."""
        return self._channels[["intake", "fees", "audit", "router", "supervision"].index(service)]

    def signed_in(self, token: str) -> Counter:
        """The same suite as another person (a supervisor, an operator ...)."""
        return Counter(self.endpoints, token=token)

    def login(self, staff_id: str, password: str, timeout: float = 10) -> auth_pb2.LoginResponse:
        return self.auth.Login(auth_pb2.LoginRequest(staff_id=staff_id, password=password),  # type: ignore[no-any-return]
                               timeout=timeout)

    def metadata(self, case_id: str = "") -> tuple[tuple[str, str | bytes], ...]:
        """The case a call is about (its audit record joins the case's timeline). Who calls is the
        token's: the services ignore a caller's own x-actor-id."""
        return ((context.CASE_HEADER, case_id),) if case_id else ()

    def submit(self, request: intake_pb2.SubmitApplicationRequest, timeout: float = 10) -> intake_pb2.SubmitApplicationResponse:
        return self.intake.SubmitApplication(request, timeout=timeout, metadata=self.metadata())  # type: ignore[no-any-return]

    def watch(self, application_id: str, timeout: float = 120) -> Iterator[intake_pb2.WatchApplicationResponse]:
        """Every status change of the application until it ends (or `timeout`). When intake has no
        room for another watch (RESOURCE_EXHAUSTED), waits as long as its RetryInfo says and tries
        again, without repeating what was already streamed."""
        deadline = time.monotonic() + timeout
        last = -1
        while True:
            call = self.intake.WatchApplication(
                intake_pb2.WatchApplicationRequest(application_id=application_id),
                timeout=max(0.1, deadline - time.monotonic()), metadata=self.metadata())
            try:
                for event in call:
                    if event.sequence > last:
                        last = event.sequence
                        yield event
                return
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or time.monotonic() >= deadline:
                    raise
                time.sleep(min(_retry_delay(call), max(0.0, deadline - time.monotonic())))

    def bill(self, application_id: str, timeout: float = 10) -> fees_pb2.QuoteResponse:
        """What an application owes. Fees prices it from the broker's case.submitted, a moment
        after intake accepted it: NOT_FOUND until then, waited out for `timeout` seconds."""
        deadline, pause = time.monotonic() + timeout, 0.01
        while True:
            try:
                return self.fees.Quote(fees_pb2.QuoteRequest(application_id=application_id),  # type: ignore[no-any-return]
                                       timeout=5, metadata=self.metadata())
            except grpc.RpcError as err:
                if err.code() != grpc.StatusCode.NOT_FOUND or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)  # usually there at the first retry; a busy fees is not hammered

    def pay(self, application_id: str, *, method: int = fees_pb2.PAYMENT_METHOD_CASH, reference: str = "",
            amount_fen: int | None = None, client_key: str = "", timeout: float = 10) -> fees_pb2.PayResponse:
        """Pay an application's whole bill (its total, unless the clerk says what was taken)."""
        due = self.bill(application_id, timeout).total.fen if amount_fen is None else amount_fen
        request = fees_pb2.PayRequest(application_id=application_id, client_key=client_key or uuid.uuid4().hex,
                                      method=method, reference=reference, amount=common_pb2.Money(fen=due),  # type: ignore[arg-type]
                                      clerk_id=self.clerk_id)
        return self.fees.Pay(request, timeout=10, metadata=self.metadata())  # type: ignore[no-any-return]

    def receipt(self, *, application_id: str = "", receipt_number: str = "") -> fees_pb2.Receipt:
        return self.fees.GetReceipt(fees_pb2.GetReceiptRequest(application_id=application_id,  # type: ignore[no-any-return]
                                                               receipt_number=receipt_number),
                                    timeout=10, metadata=self.metadata()).receipt

    def timeline(self, case_id: str) -> list[audit_pb2.TimelineEntry]:
        return list(self.audit.GetCaseTimeline(audit_pb2.GetCaseTimelineRequest(case_id=case_id), timeout=10,
                                               metadata=self.metadata()).entries)

    def verify_audit_chain(self, timeout_s: float = 120.0) -> audit_pb2.VerifyChainResponse:
        """Whether the audit trail is as it was written (the audit service recomputes its hash
        chain; it reads every record, hence the long deadline)."""
        response: audit_pb2.VerifyChainResponse = self.audit.VerifyChain(
            audit_pb2.VerifyChainRequest(), timeout=timeout_s, metadata=self.metadata())
        return response

    def case(self, case_id: str, timeout: float = 10) -> router_pb2.GetCaseResponse:
        """The router's view of a case: its status and each step's."""
        return self.router.GetCase(router_pb2.GetCaseRequest(case_id=case_id), timeout=timeout,  # type: ignore[no-any-return]
                                   metadata=self.metadata(case_id))

    def incidents(self, timeout: float = 10) -> list[router_pb2.Incident]:
        """Steps whose technical failures outlasted the router's retries, oldest first."""
        return list(self.router.ListIncidents(router_pb2.ListIncidentsRequest(), timeout=timeout,
                                              metadata=self.metadata()).incidents)

    def retry_incident(self, case_id: str, step_id: str, timeout: float = 10) -> router_pb2.Incident:
        """Dispatch an incident's step again (once its cause is mended); recorded in the case's
        timeline with this client's actor id."""
        return self.router.RetryIncident(router_pb2.RetryIncidentRequest(case_id=case_id, step_id=step_id),  # type: ignore[no-any-return]
                                         timeout=timeout, metadata=self.metadata(case_id)).incident

    def close(self) -> None:
        for ch in self._channels:
            ch.close()


def _retry_delay(call: grpc.Call, default_s: float = 1.0) -> float:
    """The delay a refusal's google.rpc.RetryInfo asks for (seconds), else `default_s`."""
    status = rpc_status.from_call(call)
    for detail in status.details if status is not None else ():
        info = error_details_pb2.RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.ToTimedelta().total_seconds()
    return default_s
