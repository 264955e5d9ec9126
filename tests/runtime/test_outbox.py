"""The transactional outbox relay: rows go out in id order, with confirms, once per claim, and are
deleted once the broker has them; an unroutable row stays without holding back the others; two
relays never send the same row in one pass; committed rows go out at once through the running
relay, and what it could not send is swept later; what the fast path published is deleted in one
statement per linger."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import approval_pb2
from services.router.models import RouterOutbox
from services.runtime import outbox, topology
from services.runtime.amqp import Publisher
from tests.support import rabbit_node
from tests.support.db import migrated
from tests.support.waiting import wait_until

ROUTER_MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "router" / "migrations"


@pytest.fixture
def sessions(pg_url: str, pg_schema: str) -> Iterator[sessionmaker[Session]]:
    engine, factory = migrated(pg_url, pg_schema, ROUTER_MIGRATIONS, "alembic_version_router")
    yield factory
    engine.dispose()


@pytest.fixture
def layout(fresh_amqp_url: str) -> str:
    pub = Publisher(fresh_amqp_url, name="test-declare")
    pub.declare(lambda ch: topology.declare_all(ch, ["business"]))
    pub.close()
    return fresh_amqp_url


BOX = outbox.Outbox(RouterOutbox)


def enqueue(sessions: sessionmaker[Session], n: int, key: str = "", prefix: str = "m") -> None:
    with sessions() as session, session.begin():
        for i in range(n):
            BOX.add(session, key or topology.rk_step_request("business"),
                    approval_pb2.SubApprovalRequest(case_id=f"C{i}", step_id="s"), message_id=f"{prefix}-{i}")


def drain(url: str, queue: str) -> list[str]:
    return [props.message_id for props, _ in rabbit_node.drain(url, queue)]


def unsent(sessions: sessionmaker[Session]) -> int:
    """Rows in the outbox: a row stays there until the broker has confirmed it."""
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(RouterOutbox)) or 0


def test_relay_publishes_in_id_order_and_deletes_what_it_sent(sessions, layout):
    enqueue(sessions, 25)
    relay = outbox.OutboxRelay(sessions, BOX, layout, name="t", batch=10)
    assert [relay.relay_once() for _ in range(4)] == [10, 10, 5, 0]
    assert unsent(sessions) == 0
    assert drain(layout, topology.department_queue("business")) == [f"m-{i}" for i in range(25)]
    relay._publisher.close()


def test_an_unroutable_row_stays_unsent_without_holding_back_the_others(sessions, layout):
    enqueue(sessions, 1, key="nobody.listens.here", prefix="lost")
    enqueue(sessions, 2)
    relay = outbox.OutboxRelay(sessions, BOX, layout, name="t")
    assert relay.relay_once() == 2
    assert unsent(sessions) == 1  # kept for a later attempt
    assert drain(layout, topology.department_queue("business")) == ["m-0", "m-1"]
    relay._publisher.close()


def test_two_relays_never_send_a_row_twice(sessions, layout):
    enqueue(sessions, 300)
    relays = [outbox.OutboxRelay(sessions, BOX, layout, name=f"t{i}", batch=20) for i in range(2)]
    barrier = threading.Barrier(2)

    def run(relay: outbox.OutboxRelay) -> None:
        barrier.wait()
        while relay.relay_once():
            pass

    threads = [threading.Thread(target=run, args=(r,)) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert unsent(sessions) == 0
    ids = drain(layout, topology.department_queue("business"))
    assert sorted(ids) == sorted(f"m-{i}" for i in range(300))  # each once
    for r in relays:
        r._publisher.close()



def test_committed_rows_are_handed_to_the_running_relay_and_deleted_once_sent(sessions, layout):
    relay = outbox.OutboxRelay(sessions, BOX, layout, name="t", poll_s=60, stale_s=60)
    relay.start()  # the sweep waits a minute: only the fast path can send these
    try:
        enqueue(sessions, 5)
        assert wait_until(lambda: unsent(sessions) == 0)
        assert drain(layout, topology.department_queue("business")) == [f"m-{i}" for i in range(5)]
    finally:
        relay.stop()


def test_rows_the_fast_path_could_not_send_are_swept_later(sessions, layout):
    relay = outbox.OutboxRelay(sessions, BOX, layout, name="t", poll_s=0.2, stale_s=1.0)
    relay.start()
    try:
        enqueue(sessions, 1, key="nobody.listens.here", prefix="lost")  # refused by the broker
        enqueue(sessions, 2)
        assert wait_until(lambda: unsent(sessions) == 1)
        assert sorted(drain(layout, topology.department_queue("business"))) == ["m-0", "m-1"]
        # Once a queue is bound, the sweep sends the refused row (older than stale_s by then).
        pub = Publisher(layout, name="bind")
        pub.declare(lambda ch: ch.queue_bind(topology.department_queue("business"), topology.EXCHANGE,
                                             "nobody.listens.here"))
        pub.close()
        assert wait_until(lambda: unsent(sessions) == 0)
        assert drain(layout, topology.department_queue("business")) == ["lost-0"]
    finally:
        relay.stop()


def test_what_the_fast_path_published_within_the_linger_is_deleted_in_one_statement(sessions, layout):
    marks: list[str] = []

    def count_marks(conn, cursor, statement, params, context, executemany):
        if statement.startswith("DELETE"):
            marks.append(statement)

    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", count_marks)
    relay = outbox.OutboxRelay(sessions, BOX, layout, name="t", poll_s=60, stale_s=60, delete_linger_s=5)
    relay.start()
    try:
        for i in range(3):  # three transactions, each handed to the relay and published at once
            enqueue(sessions, 1, prefix=f"t{i}")
        seen: list[str] = []
        assert wait_until(lambda: len(seen.__iadd__(drain(layout, topology.department_queue("business")))) == 3)
        assert unsent(sessions) == 3 and marks == []  # published, not yet deleted
    finally:
        relay.stop()  # deletes what it published before it stops
        event.remove(engine, "before_cursor_execute", count_marks)
    assert unsent(sessions) == 0
    assert len(marks) == 1
