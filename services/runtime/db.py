"""Database access: SQLAlchemy 2 engines, sessions, an aware timestamp type and Alembic migrations.

PostgreSQL from DATABASE_URL (optionally inside DATABASE_SCHEMA); a SQLite file under var/ is the
zero-setup default for a local run.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

_ALEMBIC_DIR = Path(__file__).with_name("alembic")


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
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
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


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


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
