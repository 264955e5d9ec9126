"""Rows that only serve delivery (the router's processed message ids) go once they are older than the
retention; young ones stay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session, sessionmaker

from services.router.models import ProcessedMessage
from services.runtime import clock
from services.runtime.retention import Pruner
from tests.support.db import migrated

pytestmark = pytest.mark.integration
ROUTER_MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "router" / "migrations"
PROCESSED: Table = ProcessedMessage.__table__  # type: ignore[assignment]
KEEP = timedelta(days=7)


@pytest.fixture
def sessions(pg_url: str, pg_schema: str) -> Iterator[sessionmaker[Session]]:
    engine, factory = migrated(pg_url, pg_schema, ROUTER_MIGRATIONS, "alembic_version_router")
    yield factory
    engine.dispose()


def test_old_message_ids_go_in_short_transactions_and_young_ones_stay(sessions):
    now = clock.now()
    with sessions() as session, session.begin():
        session.execute(insert(PROCESSED), [
            *({"message_id": f"old-{i}", "processed_at": now - timedelta(days=8 + i)} for i in range(5)),
            {"message_id": "young", "processed_at": now - timedelta(days=6.9)},
        ])
    pruner = Pruner(sessions, PROCESSED, PROCESSED.c.processed_at, KEEP, batch=2)  # three short transactions
    assert pruner.prune() == 5
    with sessions() as session:
        assert list(session.scalars(select(PROCESSED.c.message_id))) == ["young"]
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
