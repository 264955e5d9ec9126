"""db.pipelined: writes and COMMIT in one round trip on PostgreSQL; an error in it is raised as
SQLAlchemy raises it, and leaves no broken connection in the pool."""

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.exc import IntegrityError

from services.runtime import db

ROWS = Table("pipelined_rows", MetaData(), Column("k", String(10), primary_key=True), Column("v", Integer))


def _sessions(engine):
    ROWS.create(engine)
    yield db.session_factory(engine)
    engine.dispose()


@pytest.fixture
def pg_sessions(pg_url, pg_schema):
    yield from _sessions(db.make_engine(pg_url, pg_schema, pool_size=1))


@pytest.fixture(params=["postgresql", "sqlite"])
def sessions(request, tmp_path):
    if request.param == "sqlite":
        yield from _sessions(db.make_engine(f"sqlite:///{tmp_path / 'p.db'}"))
    else:
        yield request.getfixturevalue("pg_sessions")


def test_writes_and_commit_in_one_block(sessions):
    with db.pinned_session(sessions) as session, db.pipelined(session):
        session.connection().execute(insert(ROWS), [{"k": "a", "v": 1}, {"k": "b", "v": 2}])
        session.connection().execute(insert(ROWS), {"k": "c", "v": 3})
        session.commit()
    with sessions() as session:
        assert session.execute(select(ROWS.c.k).order_by(ROWS.c.k)).scalars().all() == ["a", "b", "c"]


def test_a_refused_write_raises_integrity_error_and_the_next_transaction_works(sessions):
    with db.pinned_session(sessions) as session, db.pipelined(session):
        session.connection().execute(insert(ROWS), {"k": "a", "v": 1})
        session.commit()
    with pytest.raises(IntegrityError), db.pinned_session(sessions) as session, db.pipelined(session):
        session.connection().execute(insert(ROWS), {"k": "a", "v": 2})
        session.connection().execute(insert(ROWS), {"k": "z", "v": 2})
        session.commit()
    with sessions() as session:  # (one pooled connection on PostgreSQL: the failed one was replaced)
        assert session.execute(select(ROWS.c.k, ROWS.c.v)).all() == [("a", 1)]


def test_on_postgresql_the_writes_wait_for_the_server_once_with_the_commit(pg_sessions, monkeypatch):
    """psycopg waits for the server at a Sync: one after BEGIN (its own rule), one for the
    writes and COMMIT together; none for a rollback inside the pipeline (the connection stays
    checked out until the block ends)."""
    from psycopg import _pipeline_base

    syncs: list[str] = []
    enqueue = _pipeline_base.BasePipeline._enqueue_sync

    def counted(self):
        syncs.append("sync")
        return enqueue(self)

    monkeypatch.setattr(_pipeline_base.BasePipeline, "_enqueue_sync", counted)
    with db.pinned_session(pg_sessions) as session, db.pipelined(session):
        session.connection().execute(insert(ROWS), {"k": "a", "v": 1})
        session.connection().execute(insert(ROWS), [{"k": "b", "v": 1}, {"k": "c", "v": 1}])
        session.commit()
        assert len(syncs) == 2  # BEGIN; the writes with COMMIT
    assert len(syncs) == 3  # leaving pipeline mode sends a last Sync (nothing waits for it)
