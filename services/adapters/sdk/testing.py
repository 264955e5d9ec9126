"""Test helpers for department teams: run your adapter as a real process against a real broker and
database, send it requests, read its answers. Used by the conformance suite (conformance.py).

    with AdapterHarness("planning", amqp_url, database_url, schema) as h:
        message_id = h.send(request)
        decision = h.decision()

Stand-ins for other departments' desks (a register this department reads): FakeDesk, started
from the department's samples by fake_neighbours(). Requests and envelopes for the rules' own
tests: request(), envelope(), only_decision(). The promises every adapter keeps are tested in
tests/adapters/test_conformance.py (`pytest --adapter=<code>`).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

import pika

from hall.v1 import approval_pb2, audit_pb2
from services.adapters import registry
from services.adapters.sdk.settings import division_code
from services.domain.identifiers import resident_id_check_digit
from services.runtime import topology, wire
from services.runtime.amqp import Publisher
from services.runtime.wire import Envelope

ROOT = Path(__file__).resolve().parents[3]


class FakeDesk:
    """An in-process gRPC server standing in for another department's desk: it serves the
    servicers it is given (a department's samples name them in `neighbours()`), so an adapter
    that looks things up in a neighbour's register is tested without that neighbour."""

    def __init__(self, servicers: list[Any]) -> None:
        import grpc

        from services.runtime.grpc_server import add_servicer

        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        for servicer in servicers:
            add_servicer(self.server, servicer, _grpc_module(servicer))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(0)


def _grpc_module(servicer: Any) -> ModuleType:
    """The generated *_pb2_grpc module that declares the servicer's base class."""
    for cls in type(servicer).__mro__:
        if cls.__module__.endswith("_pb2_grpc") and cls.__name__.endswith("Servicer"):
            return sys.modules[cls.__module__]
    raise TypeError(f"{type(servicer).__name__} is not a generated gRPC servicer")


@contextlib.contextmanager
def fake_neighbours(code: str) -> Iterator[dict[str, str]]:
    """Fake desks for what department `code`'s samples say it calls (`neighbours()`: department
    code -> servicers), started for the block; yields the settings that point the adapter at them
    (DESK_<CODE>_ADDR)."""
    wanted: dict[str, list[Any]] = getattr(samples(code), "neighbours", dict)()
    desks = {other: FakeDesk(servicers) for other, servicers in wanted.items()}
    try:
        yield {registry.entry(other).desk_address_setting: desk.address for other, desk in desks.items()}
    finally:
        for desk in desks.values():
            desk.stop()


def samples(code: str) -> ModuleType:
    """Department `code`'s samples.py: approvable() and refusable() requests, and optionally
    neighbours() (the fake desks it needs)."""
    return importlib.import_module(f"{registry.entry(code).package}.samples")


def request(department: str, step_id: str, *, case_id: str | None = None, fields: dict[str, str] | None = None,
            upstream: dict[str, str] | None = None, attempt: int = 1,
            like: approval_pb2.SubApprovalRequest | None = None) -> approval_pb2.SubApprovalRequest:
    """A request for `department`'s step on a case of its own: the applicant, matter and fields of
    `like` (default: the department's approvable sample), with what is given replaced."""
    base = like if like is not None else samples(department).approvable()
    return approval_pb2.SubApprovalRequest(
        case_id=case_id or uuid.uuid4().hex[:20], step_id=step_id, department=department,
        matter_code=base.matter_code or "m", applicant=base.applicant,
        fields=fields if fields is not None else dict(base.fields),
        upstream=upstream if upstream is not None else dict(base.upstream), attempt=attempt)


def resident_id(birth: str = "19880505", serial: int = 1, division: str | None = None) -> str:
    """A valid resident ID number (GB 11643) of someone born on `birth` (YYYYMMDD) in the hall's
    division, for sample requests."""
    first17 = f"{division or division_code()}{birth}{serial:03d}"
    return first17 + resident_id_check_digit(first17)


def envelope(msg: Any, message_id: str | None = None) -> Envelope:
    return Envelope(message=msg, message_id=message_id or uuid.uuid4().hex, type=wire.type_name(msg), routing_key="")


def only_decision(result: Any) -> approval_pb2.SubApprovalDecision:
    """The one decision an AdapterCore result publishes."""
    assert len(result.outgoing) == 1, result.outgoing
    decision: approval_pb2.SubApprovalDecision = result.outgoing[0].message
    return decision


class AdapterHarness:
    """Declares the layout on the broker, starts `python -m services.adapters <code>`, and listens
    to the department's decisions and audit records on queues of its own. `command`: another
    command line for the adapter (the one `make run` plans for it, say)."""

    def __init__(self, code: str, amqp_url: str, database_url: str = "", schema: str | None = None, *,
                 log_path: Path | None = None, extra_env: dict[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        self.code = code
        self.amqp_url = amqp_url
        self.decisions_queue = f"harness.{code}.decisions.{uuid.uuid4().hex[:6]}"
        self.audit_queue = f"harness.{code}.audit.{uuid.uuid4().hex[:6]}"
        self._publisher = Publisher(amqp_url, name=f"harness-{code}")

        def layout(ch: Any) -> None:
            topology.declare_all(ch, [code])
            for queue, key in ((self.decisions_queue, topology.rk_decision(code)),
                               (self.audit_queue, topology.rk_audit(f"adapter-{code}"))):
                ch.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
                ch.queue_bind(queue, topology.EXCHANGE, key)

        self._publisher.declare(layout)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "gen"), os.environ.get("PYTHONPATH", "")]),
               "AMQP_URL": amqp_url, "DATABASE_URL": database_url, **(extra_env or {})}
        if schema:
            env["DATABASE_SCHEMA"] = schema
        self._log = open(log_path or os.devnull, "wb")  # noqa: SIM115 - closed in stop()
        argv = [sys.executable, "-m", "services.adapters", code] if command is None else command
        self.proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)

    def __enter__(self) -> AdapterHarness:
        return self

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType] | Any) -> None:
        self.stop()

    def send(self, message: Any, message_id: str | None = None) -> str:
        key = (topology.rk_step_cancel(self.code) if isinstance(message, approval_pb2.CancelStep)
               else topology.rk_step_request(self.code))
        return self._publisher.publish(key, message, message_id=message_id or f"req-{uuid.uuid4().hex}")

    def send_raw(self, body: bytes, type_: str) -> None:
        self._publisher.publish_raw(topology.rk_step_request(self.code), body, type_=type_,
                                    message_id=f"raw-{uuid.uuid4().hex}")

    def _get(self, queue: str, timeout: float) -> tuple[str, Any]:
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            ch = conn.channel()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                method, props, body = ch.basic_get(queue, auto_ack=True)
                if method is not None:
                    return props.message_id, wire.decode(props.type, body)
                if self.proc.poll() is not None:
                    raise RuntimeError(f"adapter {self.code} exited with {self.proc.returncode}")
                time.sleep(0.05)
        finally:
            conn.close()
        raise TimeoutError(f"nothing on {queue} within {timeout} s")

    def decision(self, timeout: float = 30, *, case_id: str | None = None) -> tuple[str, approval_pb2.SubApprovalDecision]:
        """The next decision (of `case_id`, skipping other cases' left by earlier checks)."""
        deadline = time.monotonic() + timeout
        while True:
            message_id, decision = self._get(self.decisions_queue, max(0.1, deadline - time.monotonic()))
            if case_id is None or decision.case_id == case_id:
                return message_id, decision

    def audit_records(self, timeout: float = 10) -> list[audit_pb2.CallRecord]:
        """The records of the next audit message (adapters send them in batches)."""
        _, message = self._get(self.audit_queue, timeout)
        return list(message.records) if isinstance(message, audit_pb2.CallRecordBatch) else [message]

    def audited(self, case_id: str, timeout: float = 30) -> audit_pb2.CallRecord:
        """Wait until the adapter has handled a message of `case_id` (its audit record arrives);
        records of other cases met on the way are skipped."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.audit_records(max(0.1, deadline - time.monotonic())):
                if record.case_id == case_id:
                    return record

    def parked(self) -> int:
        conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            return int(conn.channel().queue_declare(topology.PARKED_QUEUE, passive=True).method.message_count)
        finally:
            conn.close()

    def terminate(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.terminate()
        self._publisher.close()
        self._log.close()
