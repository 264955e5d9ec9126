"""The suite as separate processes, started the way `make run` does (services.suite), on free
ports, a vhost of its own and PostgreSQL schemas of its own."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from services.counter.client import Counter, Endpoints
from services.runtime.db import make_engine
from services.suite import Suite, plan
from tests.support import ports, servers


@contextlib.contextmanager
def running_suite(broker_url: str, pg_url: str, log_dir: Path, **settings: str) -> Iterator[tuple[Suite, dict[str, str]]]:
    """The suite with `settings` added to its environment; on leaving, every process must stop
    cleanly on SIGTERM, and its vhost and schemas are removed."""
    prefix = f"e2e_{uuid.uuid4().hex[:8]}"
    with servers.vhost(broker_url) as amqp_url:
        env = dict(os.environ)
        env.update({"AMQP_URL": amqp_url, "HALL_DATABASE_URL": pg_url, "HALL_SCHEMA_PREFIX": prefix,
                    "LOG_LEVEL": "info", **settings})
        env.update(ports.suite_ports())
        running = Suite(plan(env), log_dir, echo=False)
        running.start()
        try:
            running.wait_ready(timeout=90)
            yield running, env
        finally:
            codes = running.stop()
            running.exit_codes = codes  # type: ignore[attr-defined]
            engine = make_engine(pg_url)
            with engine.begin() as conn:
                for child in running.children:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS "{child.env.get("DATABASE_SCHEMA", "-")}" CASCADE'))
            engine.dispose()
        bad = {k: v for k, v in codes.items() if v != 0}
        assert not bad, f"processes did not stop cleanly on SIGTERM: {bad}; logs in {log_dir}"


@pytest.fixture(scope="module")
def suite(broker_url, pg_url, tmp_path_factory):
    with running_suite(broker_url, pg_url, tmp_path_factory.mktemp("logs")) as running:
        yield running


def counter_of(env: dict[str, str], **kwargs: str) -> Counter:
    """A counter client of the suite started with `env`."""
    return Counter(Endpoints(**{n: f"127.0.0.1:{env[f'HALL_{n.upper()}_PORT']}"
                                for n in ("intake", "router", "fees", "audit")}), **kwargs)


@pytest.fixture(scope="module")
def counter(suite):
    _, env = suite
    c = counter_of(env)
    yield c
    c.close()
