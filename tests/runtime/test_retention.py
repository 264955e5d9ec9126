"""Rows that only serve delivery go once they are older than the retention; nothing else does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, sessionmaker

from services.router.models import ProcessedMessage, RouterOutbox
from services.runtime import clock
from services.runtime.retention import Pruner
from tests.conftest import migrated

pytestmark = pytest.mark.integration
ROUTER_MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "router" / "migrations"
OUTBOX: Table = RouterOutbox.__table__  # type: ignore[assignment]
PROCESSED: Table = ProcessedMessage.__table__  # type: ignore[assignment]
KEEP = timedelta(days=7)


@pytest.fixture
def sessions(pg_url: str, pg_schema: str) -> Iterator[sessionmaker[Session]]:
    engine, factory = migrated(pg_url, pg_schema, ROUTER_MIGRATIONS, "alembic_version_router")
    yield factory
    engine.dispose()


def outbox_row(message_id: str, *, created_days_ago: float, sent_days_ago: float | None) -> dict[str, object]:
    now = clock.now()
    return {"message_id": message_id, "exchange": "hall", "routing_key": "k", "type": "t", "body": b"", "headers": {},
            "created_at": now - timedelta(days=created_days_ago),
            "sent_at": None if sent_days_ago is None else now - timedelta(days=sent_days_ago)}


def test_sent_outbox_rows_go_after_the_retention_and_unsent_ones_never(sessions):
    with sessions() as session, session.begin():
        session.execute(insert(OUTBOX), [
            *(outbox_row(f"old-{i}", created_days_ago=30, sent_days_ago=8 + i) for i in range(5)),
            outbox_row("young", created_days_ago=30, sent_days_ago=6.9),
            outbox_row("never-sent", created_days_ago=30, sent_days_ago=None),  # the sweep still owes it
        ])
    pruner = Pruner(sessions, OUTBOX, OUTBOX.c.sent_at, KEEP, batch=2)  # three short transactions
    assert pruner.prune() == 5
    with sessions() as session:
        assert sorted(session.scalars(select(OUTBOX.c.message_id))) == ["never-sent", "young"]
    assert pruner.prune() == 0


def test_processed_message_ids_go_after_the_retention(sessions):
    now = clock.now()
    with sessions() as session, session.begin():
        session.execute(insert(PROCESSED), [
            {"message_id": "old", "processed_at": now - timedelta(days=8)},
            {"message_id": "young", "processed_at": now - timedelta(hours=1)},
        ])
    assert Pruner(sessions, PROCESSED, PROCESSED.c.processed_at, KEEP).prune() == 1
    with sessions() as session:
        assert list(session.scalars(select(PROCESSED.c.message_id))) == ["young"]
