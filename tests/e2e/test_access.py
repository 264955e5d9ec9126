"""The role matrix: every RPC of the contract, called on the running suite by each caller it must
refuse. No token: UNAUTHENTICATED; a role the RPC's `hall.v1.access` rule does not list, an officer
of another department, a clerk at another window, a request naming someone else as the actor:
PERMISSION_DENIED. Nothing changes: every table of every service (but the audit trail, which
records the refusals) reads the same before and after. Then each allowed role gets past the
check. The RPCs are read from the descriptors, so a new one is in the matrix without a line here."""

from __future__ import annotations

import hashlib
import importlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import sqlalchemy as sa
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import MethodDescriptor
from google.rpc import error_details_pb2

from hall.v1 import access_pb2, audit_pb2, auth_pb2, intake_pb2
from services.runtime import auth
from services.runtime.grpc_client import channel
from tests.support import tokens
from tests.support.rpc import details
from tests.support.samples import company_registration
from tests.support.waiting import wait_until
from tests.support.watch import to_the_end

pytestmark = pytest.mark.e2e
R = access_pb2.Role
# Every contract file (a new service is in the matrix without a line here).
FILES = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "protos" / "hall" / "v1").glob("*.proto"))
for _name in FILES:
    importlib.import_module(f"hall.v1.{_name}_pb2")
# Where each service answers: the setting of its port in the suite's environment.
PORT_OF = {"IntakeService": "HALL_INTAKE_PORT", "QueueService": "HALL_INTAKE_PORT", "AuthService": "HALL_INTAKE_PORT",
           "RouterService": "HALL_ROUTER_PORT", "FeesService": "HALL_FEES_PORT", "AuditService": "HALL_AUDIT_PORT",
           "SupervisionService": "HALL_SUPERVISION_PORT", "InspectionService": "HALL_SUPERVISION_PORT",
           "DepartmentDeskService": "HALL_DESK_PLANNING_PORT", "BusinessRegisterService": "HALL_DESK_BUSINESS_PORT"}
# One caller of each role; the officer is of the desk under test's department (planning).
CALLERS = {R.ROLE_CLERK: tokens.clerk("clerk-0001", "A01"), R.ROLE_OFFICER: tokens.officer("planning", "gh-007"),
           R.ROLE_SUPERVISOR: tokens.supervisor(), R.ROLE_OPERATOR: tokens.operator(),
           R.ROLE_SERVICE: tokens.service("web")}


def methods() -> list[MethodDescriptor]:
    pool = descriptor_pool.Default()
    found: list[MethodDescriptor] = []
    for name in FILES:
        for service in pool.FindFileByName(f"hall/v1/{name}.proto").services_by_name.values():
            found.extend(service.methods)
    return found


def rule_of(method: MethodDescriptor) -> access_pb2.Access:
    return method.GetOptions().Extensions[access_pb2.access]


def path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


@dataclass
class Hall:
    env: dict[str, str]
    application_id: str
    case_id: str
    receipt_number: str
    last_error: Any = None

    def call(self, method: MethodDescriptor, token: str | None, **fields: str) -> grpc.StatusCode:
        """Call `method` as `token` (None: without one) with a request naming the hall's real
        application and case; the status it ends with (OK when it answered)."""
        request = message_factory.GetMessageClass(method.input_type)()
        known = {"application_id": self.application_id, "case_id": self.case_id,
                 "receipt_number": self.receipt_number, **fields}
        for name, value in known.items():
            if name in method.input_type.fields_by_name and \
                    method.input_type.fields_by_name[name].type == method.input_type.fields_by_name[name].TYPE_STRING:
                setattr(request, name, value)
        output = message_factory.GetMessageClass(method.output_type)
        target = f"127.0.0.1:{self.env[PORT_OF[method.containing_service.name]]}"
        with channel(target, token=token or "") as ch:
            kind = ch.unary_stream if method.server_streaming else ch.unary_unary
            stub = kind(path(method), request_serializer=lambda m: m.SerializeToString(),
                        response_deserializer=output.FromString)
            try:
                answer = stub(request, timeout=10)
                if method.server_streaming:
                    next(iter(answer), None)
                    answer.cancel()
                return grpc.StatusCode.OK
            except grpc.RpcError as err:
                if method.server_streaming and err.code() == grpc.StatusCode.CANCELLED:
                    return grpc.StatusCode.OK
                self.last_error = err
                return err.code()


def refusals(method: MethodDescriptor) -> Iterator[tuple[str, str | None, dict[str, str]]]:
    """(who, token, request fields) of each caller the method must refuse."""
    rule = rule_of(method)
    if rule.public:
        return
    yield "no token", None, {}
    yield "a token not signed by the hall", _foreign_token(), {}
    for role, token in CALLERS.items():
        if role not in rule.roles:
            yield auth.ROLE_TITLES[role], token, {}
    if R.ROLE_OFFICER in rule.roles and rule.desk:
        yield "an officer of another department", tokens.officer("quality", "zj-001"), {}
    if R.ROLE_OFFICER in rule.roles and rule.department_field:
        yield "an officer naming another department", CALLERS[R.ROLE_OFFICER], {rule.department_field: "quality"}
    if R.ROLE_CLERK in rule.roles and rule.window_field:
        yield "a clerk at another window", CALLERS[R.ROLE_CLERK], {rule.window_field: "C01"}
    if rule.actor_field:
        person = next(r for r in rule.roles if r != R.ROLE_SERVICE)
        yield "a caller naming someone else", CALLERS[person], {rule.actor_field: "someone-else"}


def _foreign_token() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()).decode()
    return auth.Issuer(pem).issue(auth.Principal("clerk-0001", R.ROLE_SUPERVISOR), __import__("datetime").timedelta(hours=1))[0]


def snapshot(pg_url: str, env: dict[str, str]) -> dict[str, str]:
    """Every table of the suite's schemas but the audit trail's, as a digest of its rows."""
    prefix = env["HALL_SCHEMA_PREFIX"]
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    out = {}
    try:
        with engine.connect() as conn:
            tables = conn.execute(sa.text(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema LIKE :p "
                "AND table_schema <> :audit AND table_type = 'BASE TABLE' ORDER BY 1, 2"),
                {"p": f"{prefix}\\_%", "audit": f"{prefix}_audit"}).all()
            for schema, table in tables:
                rows = conn.execute(sa.text(f'SELECT * FROM "{schema}"."{table}" ORDER BY 1')).all()
                out[f"{schema}.{table}"] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    finally:
        engine.dispose()
    return out


@pytest.fixture(scope="module")
def hall(suite, counter) -> Hall:
    _, env = suite
    app = counter.submit(company_registration()).application
    to_the_end(counter, app.application_id)
    receipt = counter.receipt(application_id=app.application_id)
    return Hall(env, app.application_id, app.case_id, receipt.receipt_number)


def test_every_rpc_declares_who_may_call_it():
    undeclared = [path(m) for m in methods() if not m.GetOptions().HasExtension(access_pb2.access)]
    assert not undeclared
    assert len(methods()) >= 59 and {m.containing_service.name for m in methods()} >= set(PORT_OF)
    for m in methods():  # the fields a rule names are the request's
        rule = rule_of(m)
        for name in filter(None, (rule.actor_field, rule.window_field, rule.department_field)):
            assert name in m.input_type.fields_by_name, f"{path(m)}: its request has no {name}"
    # Only signing in is open to a caller without a token.
    assert [path(m) for m in methods() if rule_of(m).public] == ["/hall.v1.AuthService/Login"]


def at_rest(pg_url: str, env: dict[str, str]) -> dict[str, str]:
    """The snapshot once the case's last events have reached every service (supervision and
    fees learn them from the broker a moment after the window sees the end)."""
    last, deadline = snapshot(pg_url, env), time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(2)
        now = snapshot(pg_url, env)
        if now == last:
            return now
        last = now
    raise AssertionError("the suite's stores did not come to rest within a minute")


def test_every_rpc_refuses_whom_it_must_and_nothing_changes(hall, pg_url):
    before = at_rest(pg_url, hall.env)
    wrong = []
    tried = 0
    for method in methods():
        for who, token, fields in refusals(method):
            expected = grpc.StatusCode.UNAUTHENTICATED if token is None or who.startswith("a token not") \
                else grpc.StatusCode.PERMISSION_DENIED
            got = hall.call(method, token, **fields)
            tried += 1
            if got != expected:
                wrong.append(f"{path(method)} by {who}: {got.name}, expected {expected.name}")
            elif expected == grpc.StatusCode.PERMISSION_DENIED:
                info = details(hall.last_error, error_details_pb2.ErrorInfo)
                assert info and info[0].reason, path(method)
    assert not wrong, "\n".join(wrong)
    assert tried > 250
    assert snapshot(pg_url, hall.env) == before


def test_every_allowed_role_gets_past_the_check(hall):
    stopped = []
    for method in methods():
        rule = rule_of(method)
        for role in rule.roles:
            # A fresh request id: an allowed call may do what it is for (take a ticket ...).
            got = hall.call(method, CALLERS[role], request_id=uuid.uuid4().hex, client_key=uuid.uuid4().hex)
            if got in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                reason = details(hall.last_error, error_details_pb2.ErrorInfo)
                # The business's own refusals (supervision's hall head, a card of another
                # department) are not the access check's.
                if not reason or reason[0].reason in ("ROLE_REQUIRED", "OTHER_DEPARTMENT", "OTHER_WINDOW",
                                                      "ACTING_FOR_ANOTHER", "TOKEN_MISSING", "TOKEN_INVALID"):
                    stopped.append(f"{path(method)} by {auth.ROLE_TITLES[role]}: {got.name} {hall.last_error.details()}")
    assert not stopped, "\n".join(stopped)


def test_the_actor_is_the_verified_identity_not_what_the_caller_writes(hall, counter):
    """x-actor-id is ignored: the audit trail names the token's subject."""
    clerk = counter.signed_in(tokens.clerk("clerk-0002", "A02"))
    clerk.intake.GetApplication(intake_pb2.GetApplicationRequest(application_id=hall.application_id), timeout=10,
                                metadata=(("x-actor-id", "head-0001"), ("x-case-id", hall.case_id)))
    inspector = counter.signed_in(tokens.supervisor())

    def recorded() -> bool:  # the call record reaches audit a moment later, over the broker
        records = inspector.audit.SearchRecords(audit_pb2.SearchRecordsRequest(actor_id="clerk-0002"), timeout=10)
        return any(e.record.operation == "/hall.v1.IntakeService/GetApplication" for e in records.entries)

    assert wait_until(recorded, timeout=30, every=0.2)

    def refusals_recorded() -> bool:  # the matrix's refused calls are evidence too
        records = inspector.audit.SearchRecords(audit_pb2.SearchRecordsRequest(actor_id="gh-007", limit=1000),
                                                timeout=10)
        return any(e.record.outcome == "PERMISSION_DENIED" for e in records.entries)

    assert wait_until(refusals_recorded, timeout=30, every=0.2)
    forged = inspector.audit.SearchRecords(audit_pb2.SearchRecordsRequest(actor_id="head-0001"), timeout=10)
    assert not any(e.record.operation == "/hall.v1.IntakeService/GetApplication" for e in forged.entries)


def test_a_clerk_signs_in_and_is_who_the_directory_says(hall, counter):
    got = counter.login("clerk-0002", "hall")
    me = counter.signed_in(got.token).auth.WhoAmI(auth_pb2.WhoAmIRequest(), timeout=5).principal
    assert (me.subject, me.role, me.window_id) == ("clerk-0002", R.ROLE_CLERK, "A02")
    with pytest.raises(grpc.RpcError) as refused:
        counter.login("clerk-0002", "not-the-password")
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    text = details(refused.value, error_details_pb2.LocalizedMessage)
    assert text and "密码错误" in text[0].message


def test_a_clerk_accepts_only_a_ticket_called_to_their_own_window(hall, counter):
    from hall.v1 import queue_pb2
    from tests.support.samples import COMPANY_BUNDLE

    ticket = counter.queue.TakeTicket(queue_pb2.TakeTicketRequest(request_id=uuid.uuid4().hex,
                                                                  bundle_code=COMPANY_BUNDLE), timeout=5).ticket
    called = counter.queue.CallNext(queue_pb2.CallNextRequest(window_id="A01"), timeout=5).called
    assert called.ticket_id == ticket.ticket_id and called.window_id == "A01"
    request = company_registration()
    request.ticket_id, request.clerk_id = ticket.ticket_id, ""  # who accepts is the signed-in clerk
    elsewhere = counter.signed_in(tokens.clerk("clerk-0002", "A02"))
    with pytest.raises(grpc.RpcError) as refused:
        elsewhere.submit(request)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert details(refused.value, error_details_pb2.ErrorInfo)[0].reason == "OTHER_WINDOW"
    accepted = counter.submit(request).application  # the same request, at the window it was called to
    assert accepted.ticket_id == ticket.ticket_id and counter.submit(request).duplicate
