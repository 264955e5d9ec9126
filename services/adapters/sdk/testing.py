"""Test helpers for department teams: run your adapter as a real process against a real broker and
database, send it requests, read its answers. Used by the conformance suite (conformance.py).

    with AdapterHarness("planning", amqp_url, database_url, schema) as h:
        message_id = h.send(request)
        decision = h.decision()

Stand-in for the business register (other departments' lookups): FakeBusinessRegister.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent import futures
from pathlib import Path
from types import TracebackType
from typing import Any

import pika

from hall.v1 import approval_pb2, audit_pb2, department_pb2
from services.runtime import topology, wire
from services.runtime.amqp import Publisher

ROOT = Path(__file__).resolve().parents[3]


class FakeBusinessRegister:
    """An in-process BusinessRegisterService answering from a dict (for adapters that look up
    licences); the real one is the business desk process."""

    def __init__(self, companies: list[department_pb2.Company]) -> None:
        import grpc

        from hall.v1 import department_pb2_grpc

        companies_by_code = {c.credit_code: c for c in companies}

        class Servicer(department_pb2_grpc.BusinessRegisterServiceServicer):
            def GetCompany(self, request: Any, context: Any) -> department_pb2.GetCompanyResponse:
                company = companies_by_code.get(request.credit_code)
                if company is None:
                    context.abort(grpc.StatusCode.NOT_FOUND, "no such company")
                return department_pb2.GetCompanyResponse(company=company)

            def GetCompanies(self, request: Any, context: Any) -> department_pb2.GetCompaniesResponse:
                asked = {q.credit_code for q in request.queries}
                return department_pb2.GetCompaniesResponse(
                    companies={code: c for code, c in companies_by_code.items() if code in asked})

        self.server = grpc.server(futures.ThreadPoolExecutor(4))
        department_pb2_grpc.add_BusinessRegisterServiceServicer_to_server(Servicer(), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop(0)


class AdapterHarness:
    """Declares the layout on the broker, starts `python -m services.adapters <code>`, and listens
    to the department's decisions and audit records on queues of its own."""

    def __init__(self, code: str, amqp_url: str, database_url: str, schema: str | None = None, *,
                 log_path: Path | None = None, extra_env: dict[str, str] | None = None) -> None:
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
        self.proc = subprocess.Popen([sys.executable, "-m", "services.adapters", code], env=env, cwd=ROOT,
                                     stdout=self._log, stderr=subprocess.STDOUT)

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

    def decision(self, timeout: float = 30) -> tuple[str, approval_pb2.SubApprovalDecision]:
        return self._get(self.decisions_queue, timeout)

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
