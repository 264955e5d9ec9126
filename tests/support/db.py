"""A unique PostgreSQL schema per test, dropped afterwards; and dropping the schemas of a
suite's processes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import text

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
