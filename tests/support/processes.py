"""Service processes started alone for a test, as production starts them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from services.runtime.db import make_engine
from services.suite import Suite, plan
from tests.support.ports import free_port


@contextmanager
def lone_intake(amqp_url: str, pg_url: str, log_dir: Path, **settings: str) -> Iterator[Suite]:
    """Intake alone, on a schema of its own (dropped after), talking to `amqp_url`."""
    prefix = f"lone_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "AMQP_URL": amqp_url, "HALL_DATABASE_URL": pg_url, "HALL_SCHEMA_PREFIX": prefix,
           "HALL_INTAKE_PORT": str(free_port()), "LOG_LEVEL": "info", **settings}
    intake = next(c for c in plan(env) if c.name == "intake")
    suite = Suite([intake], log_dir, echo=False)
    suite.start()
    try:
        yield suite
    finally:
        suite.stop()
        engine = make_engine(pg_url)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{prefix}_intake" CASCADE'))
        engine.dispose()
