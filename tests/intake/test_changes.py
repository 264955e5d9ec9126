"""Watchers wake when their application changes, whichever intake replica records it.

Unit: only watched applications are tracked; a change, an `end`, or "anything may have changed"
wakes a waiter. Integration: a real intake process whose watchers would read the database only
once a minute (INTAKE_WATCH_POLL_SECONDS=60) streams a change that another replica (here, this
test's own `Applications` on the same schema) recorded: PostgreSQL's NOTIFY woke it. And the
listener, on a throwaway cluster that restarts under it, reconnects, wakes every watcher once
(what was announced meanwhile went unheard), and hears the next announcement."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from hall.v1 import approval_pb2, common_pb2, intake_pb2_grpc
from services.catalogue import load
from services.intake.applications import Applications
from services.intake.changes import ChangeListener, Changes, announce, channel
from services.runtime import clock, grpc_client
from services.runtime.db import make_engine, session_factory
from tests.support import tokens
from tests.support.processes import lone_intake
from tests.support.samples import company_registration
from tests.support.waiting import wait_until
from tests.support.watch import Watch


def waiter(changes: Changes, application_id: str, ended: threading.Event | None = None) -> threading.Thread:
    seen = changes.version(application_id)
    thread = threading.Thread(target=changes.wait, args=(application_id, seen, 60, ended), daemon=True)
    thread.start()
    return thread


def test_a_change_wakes_the_watchers_of_that_application_only():
    changes = Changes()
    with changes.watching("a"), changes.watching("b"):
        a, b = waiter(changes, "a"), waiter(changes, "b")
        changes.changed(["a", "not-watched"])
        a.join(10)
        assert not a.is_alive() and b.is_alive()
        changes.changed(None)  # anything may have changed: everyone looks again
        b.join(10)
        assert not b.is_alive()
    assert changes.version("not-watched") == changes.version("a")  # nothing kept once unwatched


def test_end_wakes_its_waiter():
    changes = Changes()
    ended = threading.Event()
    with changes.watching("a"):
        thread = waiter(changes, "a", ended)
        changes.end(ended)
        thread.join(10)
        assert not thread.is_alive()


@pytest.fixture
def intake(fresh_amqp_url, pg_url, tmp_path) -> Iterator[tuple[intake_pb2_grpc.IntakeServiceStub, str]]:
    with lone_intake(fresh_amqp_url, pg_url, tmp_path / "logs", INTAKE_WATCH_POLL_SECONDS="60") as suite:
        suite.wait_ready(timeout=90)
        channel_ = grpc_client.channel(f"127.0.0.1:{suite.children[0].port}", token=tokens.clerk())
        yield intake_pb2_grpc.IntakeServiceStub(channel_), suite.children[0].env["DATABASE_SCHEMA"]
        channel_.close()


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_a_watch_streams_what_another_replica_recorded(intake, pg_url):
    stub, schema = intake
    app = stub.SubmitApplication(company_registration(), timeout=30).application
    watch = Watch(stub, app.application_id)
    assert wait_until(lambda: len(watch.events) == 1)  # the acceptance; now the watcher waits

    engine = make_engine(pg_url, schema)
    other_replica = Applications(session_factory(engine), load(), notify_channel=channel(schema))
    other_replica.apply_status(approval_pb2.CaseStatusChanged(
        case_id=app.case_id, application_id=app.application_id, status=approval_pb2.CASE_STATUS_IN_PROGRESS,
        step_id="licence", step_status=common_pb2.STEP_STATUS_APPROVED, sequence=1, at=clock.to_timestamp(clock.now())))
    try:
        # Well inside the minute after which the watcher would have read the database anyway.
        assert wait_until(lambda: len(watch.events) == 2, timeout=30)
        assert watch.events[1].sequence == 1 and watch.events[1].step_id == "licence"
    finally:
        watch.cancel()
        engine.dispose()


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_the_listener_reconnects_after_a_database_restart_and_wakes_every_watcher(throwaway_pg):
    engine = make_engine(throwaway_pg.url)
    changes = Changes()
    listener = ChangeListener(engine, channel("restart"), changes)
    listener.start()
    try:
        assert listener.listening.wait(30)
        assert wait_until(lambda: changes.version("a")[0] == 1)  # its first connection's wake-up
        with changes.watching("a"):
            before = changes.version("a")
            throwaway_pg.restart()
            # Reconnected: every watcher looks again (what was announced meanwhile was not heard).
            assert wait_until(lambda: listener.listening.is_set() and changes.version("a")[0] > before[0],
                              timeout=60, every=0.1)
            after_restart = changes.version("a")
            with engine.begin() as conn:
                raw = conn.connection.driver_connection
                assert raw is not None
                announce(raw, channel("restart"), ["a"])
            assert wait_until(lambda: changes.version("a")[1] > after_restart[1], timeout=30)  # listening again
    finally:
        listener.stop()
        engine.dispose()
