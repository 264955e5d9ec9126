"""A unique PostgreSQL schema per test, dropped afterwards; and dropping the schemas of a
suite's processes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from services.runtime import db
from services.runtime.db import make_engine


@contextmanager
def schema(url: str, prefix: str = "t") -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        drop_schemas(url, [name])


def drop_schemas(url: str, names: Iterable[str]) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        for name in sorted(set(names)):
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


def migrated(pg_url: str, schema_name: str | None, migrations: Path, version_table: str) -> tuple[Engine, sessionmaker[Session]]:
    engine = db.make_engine(pg_url, schema_name)
    db.migrate(engine, migrations, version_table)
    return engine, db.session_factory(engine)
