"""A real adapter process (nameko under ServiceRunner) on a real broker and database."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pika
import pytest

from hall.v1 import approval_pb2
from services.adapters.sdk.testing import request
from services.domain.identifiers import validate_credit_code
from services.runtime import topology, wire
from services.runtime.amqp import Publisher

ROOT = Path(__file__).resolve().parents[2]


def test_an_adapter_process_starts_without_grpcio():
    """eventlet never shares a process with a gRPC server: an adapter loads grpcio only once it
    calls a neighbour's desk as a client (services/adapters/sdk/neighbours.py)."""
    code = ("import eventlet; eventlet.monkey_patch(); import sys; "
            "import services.adapters.sdk.runner, services.adapters.sdk.service; "
            "from services.adapters import registry; from services.adapters.sdk.registry import load_department; "
            "[load_department(d) for d in registry.codes()]; "
            "bad = [m for m in sys.modules if m == 'grpc' or m.startswith('grpc.')]; "
            "sys.exit(f'grpc imported: {bad}' if bad else 0)")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT)


def _running_adapter(url, pg_url, pg_schema, tmp_path, *, legacy_queue=False, **settings):
    if legacy_queue:  # as an earlier version declared it (parking at most once)
        with pika.BlockingConnection(pika.URLParameters(url)) as conn:
            ch = conn.channel()
            topology.declare_exchanges(ch)
            ch.queue_declare(topology.department_queue("business"), durable=True,
                             arguments=topology.LEGACY_QUEUE_ARGUMENTS)
    pub = Publisher(url, name="test")
    pub.declare(lambda ch: topology.declare_all(ch, ["business"]))

    def listen(ch):
        ch.queue_declare("test.decisions", durable=True)
        ch.queue_bind("test.decisions", topology.EXCHANGE, "decision.business")

    pub.declare(listen)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'gen'}", "AMQP_URL": url,
           "DATABASE_URL": pg_url, "DATABASE_SCHEMA": pg_schema, **settings}
    log = open(tmp_path / "adapter.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "services.adapters", "business"], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    yield pub, url, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    log.close()
    pub.close()


@pytest.fixture
def adapter(fresh_amqp_url, pg_url, pg_schema, tmp_path):
    yield from _running_adapter(fresh_amqp_url, pg_url, pg_schema, tmp_path)


@pytest.fixture
def adapter_on_a_legacy_queue(fresh_amqp_url, pg_url, pg_schema, tmp_path):
    yield from _running_adapter(fresh_amqp_url, pg_url, pg_schema, tmp_path, legacy_queue=True)


def _http(url):
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError:
        return None, ""


def test_the_adapter_says_when_it_is_ready_and_stops_being_ready_when_it_stops(fresh_amqp_url, pg_url, pg_schema,
                                                                              tmp_path):
    """`make run` waits for /readyz before "suite is up"; Kubernetes probes the same endpoint."""
    from tests.support.ports import free_port
    from tests.support.waiting import wait_until

    port = free_port()
    running = _running_adapter(fresh_amqp_url, pg_url, pg_schema, tmp_path, HEALTH_PORT=str(port))
    pub, url, proc = next(running)
    try:
        assert wait_until(lambda: _http(f"http://127.0.0.1:{port}/readyz") == (200, "ready\n"), timeout=60)
        assert _http(f"http://127.0.0.1:{port}/healthz")[0] == 200
        assert _http(f"http://127.0.0.1:{port}/nope")[0] == 404
        pub.publish(topology.rk_step_request("business"), request("business", "licence"))
        assert next_decision(url)[1].outcome == approval_pb2.OUTCOME_APPROVED  # ready meant consuming
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert _http(f"http://127.0.0.1:{port}/readyz")[0] is None  # gone with the process
    finally:
        next(running, None)


def next_decision(url, timeout=30.0):
    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        ch = conn.channel()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            method, props, body = ch.basic_get("test.decisions", auto_ack=True)
            if method is not None:
                return props.message_id, wire.decode(props.type, body)
            time.sleep(0.05)
    finally:
        conn.close()
    raise AssertionError("no decision")


def test_request_is_answered_once_even_when_delivered_twice(adapter):
    pub, url, proc = adapter
    req = request("business", "licence")
    message_id = f"req-{uuid.uuid4().hex}"
    pub.publish(topology.rk_step_request("business"), req, message_id=message_id)
    first_id, first = next_decision(url)
    assert first.outcome == approval_pb2.OUTCOME_APPROVED
    validate_credit_code(first.results["credit_code"])
    pub.publish(topology.rk_step_request("business"), req, message_id=message_id)  # redelivery
    second_id, second = next_decision(url)
    assert (second_id, second.results) == (first_id, first.results)


def test_malformed_message_is_parked_and_the_adapter_keeps_working(adapter):
    pub, url, proc = adapter
    conn = pika.BlockingConnection(pika.URLParameters(url))
    conn.channel().basic_publish(topology.EXCHANGE, topology.rk_step_request("business"), b"\x08\xff\xff",
                                 pika.BasicProperties(type="hall.v1.SubApprovalRequest", message_id="junk",
                                                      content_type=wire.CONTENT_TYPE, delivery_mode=2))
    conn.close()
    pub.publish(topology.rk_step_request("business"), request("business", "licence"))
    _, decision = next_decision(url)
    assert decision.outcome == approval_pb2.OUTCOME_APPROVED
    conn = pika.BlockingConnection(pika.URLParameters(url))
    assert conn.channel().queue_declare(topology.PARKED_QUEUE, passive=True).method.message_count == 1
    conn.close()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


def test_call_records_of_an_adapter_killed_before_sending_them_reach_the_audit_trail(
        fresh_amqp_url, pg_url, pg_schema, tmp_path):
    from services.adapters.sdk.testing import AdapterHarness
    from tests.support.rabbit_node import queue_depth

    spool = tmp_path / "spool"
    requests = [request("business", "licence") for _ in range(3)]
    # Records wait 5 s in memory before they are sent: the kill comes first.
    with AdapterHarness("business", fresh_amqp_url, pg_url, pg_schema, log_path=tmp_path / "first.log",
                        extra_env={"AUDIT_LINGER_MS": "5000", "AUDIT_SPOOL_DIR": str(spool)}) as first:
        for req in requests:
            first.send(req)
        for _ in requests:
            first.decision()
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(30)
        assert queue_depth(fresh_amqp_url, first.audit_queue) == 0  # nothing was sent
    with AdapterHarness("business", fresh_amqp_url, pg_url, pg_schema, log_path=tmp_path / "second.log",
                        extra_env={"AUDIT_LINGER_MS": "50", "AUDIT_SPOOL_DIR": str(spool)}) as second:
        records: dict[str, object] = {}
        while not {r.case_id for r in requests} <= records.keys():
            records.update((r.case_id, r) for r in second.audit_records(timeout=30))
        for req in requests:
            record = records[req.case_id]
            assert record.operation == "hall.v1.SubApprovalRequest" and record.outcome == "decided"  # type: ignore[attr-defined]
    assert not spool.exists()  # stopped cleanly with everything sent: nothing left


def test_an_adapter_consumes_a_queue_an_earlier_version_declared_and_says_so(adapter_on_a_legacy_queue, tmp_path):
    """nameko's own declaration would be refused (other arguments) and stop the adapter at every
    start; the adapter consumes the queue as it is and warns that parking is at most once."""
    pub, url, proc = adapter_on_a_legacy_queue
    pub.publish(topology.rk_step_request("business"), request("business", "licence"))
    _, decision = next_decision(url)
    assert decision.outcome == approval_pb2.OUTCOME_APPROVED
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    warnings = [line for line in (tmp_path / "adapter.log").read_text().splitlines()
                if "declared by an earlier version" in line]
    assert len(warnings) == 1 and topology.department_queue("business") in warnings[0]
