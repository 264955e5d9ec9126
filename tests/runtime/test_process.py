"""A platform process serves its gRPC API while the broker is away; what it commits meanwhile is
relayed once the broker is back (the broker is a throwaway node: the shared one is never stopped).
Killed with -9, it loses none of the call records it had not sent: the next one sends them."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pika
import pytest

from services.counter.client import Counter, Endpoints
from services.runtime import topology
from services.runtime.db import make_engine
from tests.support import rabbit_node, tokens
from tests.support.processes import lone_intake
from tests.support.samples import company_registration
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.fixture
def intake_without_broker(pg_url, tmp_path, throwaway_rabbit):
    node = throwaway_rabbit
    node.stop()
    with lone_intake(node.url, pg_url, tmp_path / "logs") as suite:
        suite.wait_ready(timeout=90)
        yield node, suite.children[0].port, tmp_path / "logs" / "intake.log"


def test_intake_takes_applications_while_the_broker_is_away_and_relays_them_after(intake_without_broker):
    node, port, log = intake_without_broker
    counter = Counter(Endpoints(intake=f"127.0.0.1:{port}"), token=tokens.clerk())
    try:
        accepted = counter.submit(company_registration()).application
        assert accepted.application_id and accepted.case_id
        assert "broker not reachable; serving gRPC" in log.read_text(errors="replace")

        node.start()
        # Once back, intake declares the layout and its relay sends the waiting CaseSubmitted.
        assert wait_until(lambda: _depth(node.url, topology.ROUTER_QUEUE) == 1, timeout=60, every=0.5), \
            log.read_text(errors="replace")[-3000:]
        assert "broker reachable; consuming" in log.read_text(errors="replace")
    finally:
        counter.close()


def _depth(url: str, queue: str) -> int:
    try:
        return rabbit_node.queue_depth(url, queue)
    except Exception:  # noqa: BLE001 - not declared yet
        return -1


def test_a_process_the_broker_refuses_stops_with_a_non_zero_exit(fresh_amqp_url, pg_url, tmp_path):
    # Waiting mends an absent broker, not a wrong password: that must show as a crash loop.
    wrong = pika.URLParameters(fresh_amqp_url)
    url = f"amqp://{wrong.credentials.username}:not-the-password@{wrong.host}:{wrong.port}/{quote(wrong.virtual_host, safe='')}"
    with lone_intake(url, pg_url, tmp_path / "logs") as suite:
        intake = suite.children[0]
        assert intake.proc is not None
        assert intake.proc.wait(90) == 1
        assert "broker refuses this process's configuration" in (tmp_path / "logs" / "intake.log").read_text(errors="replace")


def test_call_records_of_a_process_killed_before_sending_them_reach_the_audit_trail(fresh_amqp_url, pg_url, tmp_path):
    listening = f"test.audit.intake.{uuid.uuid4().hex[:6]}"
    conn = pika.BlockingConnection(pika.URLParameters(fresh_amqp_url))
    try:
        ch = conn.channel()
        topology.declare_exchanges(ch)
        ch.queue_declare(listening, durable=True)
        ch.queue_bind(listening, topology.EXCHANGE, topology.rk_audit("intake"))
    finally:
        conn.close()
    # Records wait 5 s in memory before they are sent: the kill comes first.
    with lone_intake(fresh_amqp_url, pg_url, tmp_path / "logs", AUDIT_LINGER_MS="5000",
                     AUDIT_SPOOL_DIR=str(tmp_path / "spool")) as suite:
        suite.wait_ready(timeout=90)
        intake = suite.children[0]
        counter = Counter(Endpoints(intake=f"127.0.0.1:{intake.port}"), token=tokens.clerk())
        try:
            case_id = counter.submit(company_registration()).application.case_id
            assert intake.proc is not None
            intake.proc.kill()
            intake.proc.wait(30)
            assert rabbit_node.queue_depth(fresh_amqp_url, listening) == 0  # nothing was sent

            intake.env["AUDIT_LINGER_MS"] = "50"
            suite.start_child(intake)
            suite.wait_ready(timeout=90)
            records = _records(fresh_amqp_url, listening)
            assert wait_until(lambda: any(r.case_id == case_id and r.operation.endswith("/SubmitApplication")
                                          for r in records()), timeout=30, every=0.2)
        finally:
            counter.close()
    assert not (tmp_path / "spool").exists()  # stopped cleanly with everything sent: nothing left


def _records(url: str, queue: str):
    """A function returning every call record that has arrived on `queue` so far."""
    from hall.v1 import audit_pb2
    from services.runtime import wire

    seen: list[audit_pb2.CallRecord] = []

    def records() -> list[audit_pb2.CallRecord]:
        for props, body in rabbit_node.drain(url, queue):
            message = wire.decode(props.type, body)
            assert isinstance(message, audit_pb2.CallRecordBatch)
            seen.extend(message.records)
        return seen

    return records


def test_a_process_deletes_an_outbox_row_once_the_broker_has_it(fresh_amqp_url, pg_url, tmp_path):
    """A row a killed process left unsent is swept, published and deleted; a row an earlier version
    marked sent (and kept) is not sent again."""
    from datetime import timedelta

    from sqlalchemy import Table, insert, select

    from services.intake.models import IntakeOutbox
    from services.runtime import clock

    outbox: Table = IntakeOutbox.__table__  # type: ignore[assignment]
    with lone_intake(fresh_amqp_url, pg_url, tmp_path / "logs") as suite:
        suite.wait_ready(timeout=90)
        engine = make_engine(pg_url, suite.children[0].env["DATABASE_SCHEMA"])
        try:
            now = clock.now()
            row = {"exchange": topology.EXCHANGE, "routing_key": topology.RK_CASE_SUBMITTED, "type": "t", "body": b"",
                   "headers": {}, "created_at": now - timedelta(minutes=1)}
            with engine.begin() as conn:
                conn.execute(insert(outbox), [{**row, "message_id": "left-unsent", "sent_at": None},
                                              {**row, "message_id": "sent-and-kept", "sent_at": now}])

            def left() -> list[str]:
                with engine.connect() as conn:
                    return sorted(conn.execute(select(outbox.c.message_id)).scalars())

            assert wait_until(lambda: left() == ["sent-and-kept"], timeout=30, every=0.5), left()
        finally:
            engine.dispose()
    assert [props.message_id for props, _ in rabbit_node.drain(fresh_amqp_url, topology.ROUTER_QUEUE)] == ["left-unsent"]


@pytest.mark.parametrize("gap_s", [0.0, 0.005, 0.05])
def test_ctrl_c_and_sigterm_together_stop_a_process_cleanly(fresh_amqp_url, pg_url, tmp_path, gap_s):
    """`make run`'s Ctrl-C reaches every process, and the suite's SIGTERM follows at once. The
    second signal used to run its handler inside the first one's logging and wait on its own lock
    for ever, or (arriving as the interpreter exited) to kill the process: exit -15."""
    import signal
    import time

    with lone_intake(fresh_amqp_url, pg_url, tmp_path / "logs") as suite:
        suite.wait_ready(timeout=90)
        intake = suite.children[0]
        assert intake.proc is not None
        intake.proc.send_signal(signal.SIGINT)
        time.sleep(gap_s)
        intake.proc.send_signal(signal.SIGTERM)
        assert intake.proc.wait(30) == 0
    log = (tmp_path / "logs" / "intake.log").read_text()
    assert "signal received; shutting down" in log and '"stopped"' in log
