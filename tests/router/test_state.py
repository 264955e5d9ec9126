"""The router's PostgreSQL transaction in psycopg's pipeline mode: its reads return what the
SQLAlchemy statements return, and a database restart under it fails one batch, not the router."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from hall.v1 import approval_pb2
from services.catalogue import load
from services.router import state
from services.router.engine import Engine
from services.runtime import clock, db
from tests.router.test_engine import decide, envelope, requests, statuses, submitted
from tests.support.db import migrated

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "router" / "migrations"


def _values(loaded: state.Loaded) -> dict[str, tuple[dict, list[dict]]]:
    def plain(record: state.Record) -> dict:
        return {k: v for k, v in vars(record).items() if not k.startswith("_")}

    return {cid: (plain(case), [plain(s) for s in steps]) for cid, (case, steps) in loaded.items()}


def test_the_pipelined_reads_return_what_sqlalchemy_returns(pg_url, pg_schema):
    db_engine, sessions = migrated(pg_url, pg_schema, MIGRATIONS, "alembic_version_router")
    try:
        eng = Engine(sessions, load())
        eng.handle(envelope(submitted("C1")))
        decide(eng, requests(sessions)[0], credit_code="91150602MA0000015E", licence_number="l", company_name="n")
        with sessions() as session:
            by_sqlalchemy = state.load(session, ["C1", "nobody"], lock=True)
        with sessions() as session:
            fresh, pipelined = state.claim_and_load(session, ["m-new", "m-new"], ["C1", "nobody"], clock.now(),
                                                    lock=True)
            session.rollback()
        assert fresh == {"m-new"}
        assert _values(pipelined) == _values(by_sqlalchemy)
        case, steps = pipelined["C1"]
        assert case.created_at.tzinfo is not None and case.created_at.utcoffset().total_seconds() == 0
        assert case.results["credit_code"] == "91150602MA0000015E" and isinstance(case.submitted, bytes)
        assert [s.step_id for s in steps] == ["licence", "org_code", "national_tax", "local_tax"]
    finally:
        db_engine.dispose()


def test_a_database_restart_under_the_router_fails_one_batch_then_it_goes_on(throwaway_pg):
    db_engine = db.make_engine(throwaway_pg.url, "router_restart", pool_size=2)
    try:
        db.migrate(db_engine, MIGRATIONS, "alembic_version_router")
        sessions = db.session_factory(db_engine)
        eng = Engine(sessions, load())
        eng.handle(envelope(submitted("C1")))
        licence = requests(sessions)[0]
        throwaway_pg.restart()  # the pooled connection was in use a moment ago: not pinged
        decision_id = uuid.uuid4().hex
        with pytest.raises(Exception):  # noqa: B017 - whichever driver error: the consumer requeues
            decide(eng, licence, message_id=decision_id, credit_code="91150602MA0000015E", licence_number="l",
                   company_name="n")
        # The redelivered decision is handled once, on a new connection.
        decide(eng, licence, message_id=decision_id, credit_code="91150602MA0000015E", licence_number="l",
               company_name="n")
        decide(eng, licence, message_id=decision_id, credit_code="91150602MA0000015E", licence_number="l",
               company_name="n")
        assert [r.step_id for r in requests(sessions)] == ["licence", "org_code"]
        assert statuses(sessions)[-1].status == approval_pb2.CASE_STATUS_IN_PROGRESS
        assert [s.sequence for s in statuses(sessions)] == [1, 2]
    finally:
        db_engine.dispose()
