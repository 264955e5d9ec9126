"""Database access: SQLAlchemy 2 engines, sessions, an aware timestamp type and Alembic migrations.

PostgreSQL from DATABASE_URL (optionally inside DATABASE_SCHEMA); a SQLite file under var/ is the
zero-setup default for a local run.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, Executable, Table, bindparam, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = structlog.get_logger(__name__)

_ALEMBIC_DIR = Path(__file__).with_name("alembic")
# A pooled PostgreSQL connection idle for longer than this is checked before it is handed out.
PING_AFTER_IDLE_S = 2.0


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; returns aware datetimes on every backend (SQLite too)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: the suite stores aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every service's tables (each service uses its own table names)."""


def normalise_url(url: str) -> str:
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, schema: str | None = None, *, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size)
    _ping_when_idle(engine)
    if schema:

        @event.listens_for(engine, "connect")
        def _search_path(dbapi_conn: Any, _: Any) -> None:
            # Every pooled connection works inside the service's schema (created on first use).
            cur = dbapi_conn.cursor()
            try:
                cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                dbapi_conn.commit()
            except Exception:  # noqa: BLE001 - another connection created it at the same moment
                dbapi_conn.rollback()
            cur.execute(f'SET search_path TO "{schema}"')
            cur.close()
            dbapi_conn.commit()

    return engine


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it has been idle for PING_AFTER_IDLE_S.

    SQLAlchemy's pool_pre_ping checks at every checkout: a round trip per transaction
    and a statement for the server each time, on every hop of every case. A connection in
    steady use needs no check; one that sat idle may have been cut (a database restart, a
    firewall): it is checked, and a dead one is replaced before anyone sees it. A restart while
    connections are in use fails the transactions on them once; their callers retry (consumers
    requeue, clients retry with the same request id) and the pool replaces every connection.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        _ping(dbapi_conn)


def _ping(dbapi_conn: Any) -> None:
    try:
        dbapi_conn.execute("SELECT 1")
        dbapi_conn.rollback()
    except Exception as exc:  # noqa: BLE001 - any failure means: not usable
        raise DisconnectionError("pooled connection is dead") from exc


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def per_dialect(build: Callable[[Any], Executable]) -> dict[str, Executable]:
    """`build(insert)` for each database we run on, given that dialect's `insert` (the one with
    ON CONFLICT): prebuilt upserts, picked by the engine's or connection's `dialect.name`."""
    return {name: build(dialect_insert) for name, dialect_insert in (("postgresql", postgresql.insert),
                                                                     ("sqlite", sqlite.insert))}


def next_number(table: Table, key: str, counter: str) -> dict[str, Executable]:
    """Per dialect, one statement for a gapless numbering: add :count (1 unless given) to
    `counter` in the row whose `key` is :key (a new row starts at :count) and return the new
    value, the last of the block of numbers taken. The row stays locked until the transaction
    ends, so numbers are handed out in commit order, and a rolled-back transaction gives its
    numbers back. Run it as late in the transaction as possible: it serialises numbering."""
    count = bindparam("count", 1, type_=table.c[counter].type)
    return per_dialect(lambda insert: insert(table).values({key: bindparam("key"), counter: count})
                       .on_conflict_do_update(index_elements=[key], set_={counter: table.c[counter] + count})
                       .returning(table.c[counter]))


@contextmanager
def pinned_session(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session on a connection of its own, checked out until the block ends, not when the
    session commits. Use it with `pipelined`: a session from `factory` returns its connection to
    the pool inside `commit()`, where another thread could take it while this one still ends its
    pipeline on it."""
    engine = factory.kw["bind"]
    with engine.connect() as connection, factory(bind=connection) as session:
        yield session


@contextmanager
def pipelined(session: Session) -> Iterator[Any]:
    """On PostgreSQL, what the block sends through the session, and the `session.commit()` it may
    end with, travel in one round trip (psycopg's pipeline mode) instead of one each (psycopg
    waits for a transaction's BEGIN on its own before: one more round trip at the start).
    Statements sent through the session must return no rows: SQLAlchemy cannot read a result in
    pipeline mode (and a Core INSERT must then be `.inline()`, or it asks for the new primary
    key). Reads go on the psycopg connection the block is given, on cursors of their own, and
    their rows are there once the block has ended. Pending ORM objects are flushed before,
    outside it. The session must come from `pinned_session`. Elsewhere (SQLite) the block is
    given None and runs as it is."""
    if session.get_bind().dialect.name != "postgresql":
        yield None
        return
    session.flush()
    connection = session.connection()
    raw: Any = connection.connection.driver_connection
    try:
        with raw.pipeline():
            yield raw
    except BaseException:
        # An error in a pipeline (a unique key refused, a dropped connection) can leave the
        # connection inside an aborted transaction that the session's rollback does not see: a
        # connection that failed here is discarded rather than returned to the pool.
        connection.invalidate()
        raise


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def prepare_schema(engine: Engine, migrations_dir: Path, version_table: str) -> None:
    """What a process does with its schema at start (DATABASE_MIGRATE): `start` (the default, `make
    run`) migrates it; `wait` (Kubernetes: the migration Job does it, deploy/k8s/base/migrate.yaml)
    changes nothing and waits until the schema is at the newest revision, for at most
    DATABASE_MIGRATE_WAIT_SECONDS (300), then stops with an error (a crash loop an operator sees)."""
    from services.runtime.config import ConfigError, env_choice, env_int

    mode = env_choice("DATABASE_MIGRATE", "start", ("start", "wait"))
    if mode == "start":
        migrate(engine, migrations_dir, version_table)
        return
    timeout = env_int("DATABASE_MIGRATE_WAIT_SECONDS", 300, minimum=1, maximum=86400)
    want = head_revision(migrations_dir)
    deadline, logged = time.monotonic() + timeout, 0.0
    while True:
        have = current_revision(engine, version_table)
        if have == want:
            return
        if time.monotonic() >= deadline:
            raise ConfigError(f"schema of {version_table} is at {have or 'nothing'}, not {want}, after {timeout} s: "
                              "has the migration Job run? (DATABASE_MIGRATE=wait)")
        if time.monotonic() - logged > 30:
            log.warning("waiting for the migration Job", version_table=version_table, have=have, want=want)
            logged = time.monotonic()
        time.sleep(1.0)


def head_revision(migrations_dir: Path) -> str:
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(_ALEMBIC_DIR))
    cfg.set_main_option("version_locations", str(migrations_dir))
    return str(ScriptDirectory.from_config(cfg).get_current_head())


def current_revision(engine: Engine, version_table: str) -> str:
    """The schema's revision ("" when it has none: never migrated)."""
    try:
        with engine.connect() as conn:
            return str(conn.execute(text(f"SELECT version_num FROM {version_table}")).scalar() or "")
    except sa_exc.DBAPIError:
        return ""


def migrate(engine: Engine, migrations_dir: Path, version_table: str) -> None:
    """Bring the service's tables to the newest revision (safe when replicas start together)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_ALEMBIC_DIR))
    cfg.set_main_option("version_locations", str(migrations_dir))
    cfg.attributes["version_table"] = version_table
    with engine.begin() as conn:
        if is_postgres(engine):
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": zlib.crc32(version_table.encode())})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        if is_postgres(engine) and conn.execute(text("SHOW autovacuum")).scalar() != "on":
            # Without it no table gets statistics, and lookups that PostgreSQL planned while the
            # tables were nearly empty stay sequential scans that grow with the tables
            # (docs/operations.md, "PostgreSQL statistics").
            log.warning("autovacuum is off on this PostgreSQL server: run ANALYZE on the service's tables "
                        "regularly, or turn autovacuum on", version_table=version_table)
