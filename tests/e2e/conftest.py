"""The suite as separate processes, started the way `make run` does (services.suite), on free
ports, a vhost of its own and PostgreSQL schemas of its own."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from services.counter.client import Counter, Endpoints
from services.runtime.db import make_engine
from services.suite import Suite, plan
from tests.support import ports, servers


@pytest.fixture(scope="module")
def suite(broker_url, pg_url, tmp_path_factory):
    prefix = f"e2e_{uuid.uuid4().hex[:8]}"
    log_dir: Path = tmp_path_factory.mktemp("logs")
    with servers.vhost(broker_url) as amqp_url:
        env = dict(os.environ)
        env.update({"AMQP_URL": amqp_url, "HALL_DATABASE_URL": pg_url, "HALL_SCHEMA_PREFIX": prefix,
                    "LOG_LEVEL": "info"})
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
def counter(suite):
    _, env = suite
    c = Counter(Endpoints(**{n: f"127.0.0.1:{env[f'HALL_{n.upper()}_PORT']}" for n in ("intake", "router", "fees", "audit")}))
    yield c
    c.close()
