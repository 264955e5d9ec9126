"""The suite as separate processes, started the way `make run` does (services.suite), on free
ports, a vhost of its own and PostgreSQL schemas of its own."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.counter.client import Counter, Endpoints
from services.suite import Suite, plan
from tests.support import ports, servers
from tests.support.processes import started


@contextlib.contextmanager
def running_suite(broker_url: str, pg_url: str, log_dir: Path, **settings: str) -> Iterator[tuple[Suite, dict[str, str]]]:
    """The suite with `settings` added to its environment; on leaving, every process must stop
    cleanly on SIGTERM, and its vhost and schemas are removed."""
    with servers.vhost(broker_url) as amqp_url:
        env = dict(os.environ)
        env.update({"AMQP_URL": amqp_url, "HALL_DATABASE_URL": pg_url,
                    "HALL_SCHEMA_PREFIX": f"e2e_{uuid.uuid4().hex[:8]}", "LOG_LEVEL": "info", **settings})
        env.update(ports.suite_ports())
        with started(plan(env), pg_url, log_dir) as running:
            yield running, env
    bad = {k: v for k, v in running.exit_codes.items() if v != 0}
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
