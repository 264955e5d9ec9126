"""Service processes started for a test or a bench, as production starts them, on schemas of
their own that are dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.counter.client import Counter, Endpoints
from services.ports import PLATFORM_PORTS
from services.suite import Child, Suite, plan
from tests.support import ports, servers, tokens
from tests.support.db import drop_schemas
from tests.support.ports import free_port


@contextmanager
def started(children: list[Child], pg_url: str, log_dir: Path, *,
            ready_timeout: float | None = 90.0) -> Iterator[Suite]:
    """`children` (from services.suite.plan, each on a schema of its own) started as production
    starts them; with `ready_timeout`, once every gRPC server among them serves. On leaving they
    are stopped with SIGTERM (their exit codes in `suite.exit_codes`) and their schemas dropped."""
    suite = Suite(children, log_dir, echo=False)
    suite.start()
    try:
        if ready_timeout is not None:
            suite.wait_ready(timeout=ready_timeout)
        yield suite
    finally:
        suite.stop()
        drop_schemas(pg_url, [c.env["DATABASE_SCHEMA"] for c in children if "DATABASE_SCHEMA" in c.env])


@contextmanager
def lone_intake(amqp_url: str, pg_url: str, log_dir: Path, **settings: str) -> Iterator[Suite]:
    """Intake alone, on a schema of its own (dropped after), talking to `amqp_url`."""
    prefix = f"lone_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "AMQP_URL": amqp_url, "HALL_DATABASE_URL": pg_url, "HALL_SCHEMA_PREFIX": prefix,
           "HALL_INTAKE_PORT": str(free_port()), "LOG_LEVEL": "info", **settings}
    intake = next(c for c in plan(env) if c.name == "intake")
    with started([intake], pg_url, log_dir, ready_timeout=None) as suite:
        yield suite


@contextmanager
def whole_suite(broker_url: str, pg_url: str, log_dir: Path, **settings: str) -> Iterator[tuple[Suite, dict[str, str]]]:
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


def counter_of(env: dict[str, str], token: str | None = None) -> Counter:
    """A counter client of the suite started with `env`, signed in as `token` (default: the
    clerk clerk-0001 at window A01; `counter.signed_in(tokens.supervisor())` for another)."""
    return Counter(Endpoints(**{n: f"127.0.0.1:{env[f'HALL_{n.upper()}_PORT']}"
                                for n in PLATFORM_PORTS}), token=tokens.clerk() if token is None else token)
