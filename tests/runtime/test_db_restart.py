"""Pooled connections across a PostgreSQL restart, on a throwaway cluster of its own (the shared
server is never stopped): an idle connection is checked before use, so a restart between two
transactions goes unnoticed; one restarted under a busy connection fails that transaction once,
and the next works."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from services.runtime import db
from tests.support import pg_cluster

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(throwaway_pg: pg_cluster.PgCluster) -> Iterator[Engine]:
    e = db.make_engine(throwaway_pg.url, "restart_test", pool_size=2)
    yield e
    e.dispose()


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_an_idle_connection_is_checked_and_replaced_after_a_restart(engine, throwaway_pg, monkeypatch):
    before = backend_pid(engine)
    throwaway_pg.restart()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # the pooled connection counts as idle now
    assert backend_pid(engine) != before  # no error: the dead connection was replaced


def test_a_connection_in_steady_use_is_not_pinged(engine, monkeypatch):
    backend_pid(engine)
    pings: list[str] = []
    original = db._ping

    def counting(dbapi_conn):
        pings.append("ping")
        original(dbapi_conn)

    monkeypatch.setattr(db, "_ping", counting)
    for _ in range(5):
        backend_pid(engine)
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)
    backend_pid(engine)
    assert pings == ["ping"]


def test_a_restart_under_a_busy_connection_fails_one_transaction_then_recovers(engine, throwaway_pg):
    backend_pid(engine)
    throwaway_pg.restart()  # well within PING_AFTER_IDLE_S: the pooled connection is used unchecked
    with pytest.raises(DBAPIError) as failed:
        backend_pid(engine)
    assert failed.value.connection_invalidated
    assert backend_pid(engine) > 0
