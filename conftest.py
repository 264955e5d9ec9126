"""Shared fixtures of every test: those under tests/ and each department's own, in its folder
(services/adapters/<code>/test_<code>.py). Integration tests use a real RabbitMQ and PostgreSQL:
see tests/support/servers.py for where they come from (environment URL -> local server ->
testcontainers -> clear stop).

`pytest --adapter=<code>` runs one department's tests alone: its own module and the conformance
tests (tests/adapters/test_conformance.py) for it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from tests.support import pg_cluster, rabbit_node, servers
from tests.support.db import schema

ROOT = Path(__file__).resolve().parent
pytest_plugins = ["services.adapters.sdk.pytest_plugin"]


@pytest.fixture(scope="session")
def broker_url() -> Iterator[str]:
    try:
        with servers.rabbitmq() as url:
            yield url
    except servers.NoServer as exc:
        pytest.exit(str(exc), returncode=3)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    try:
        with servers.postgres() as url:
            yield url
    except servers.NoServer as exc:
        pytest.exit(str(exc), returncode=3)


@pytest.fixture(scope="session")
def amqp_url(broker_url: str) -> Iterator[str]:
    """A vhost of its own for this test session."""
    with servers.vhost(broker_url) as url:
        yield url


@pytest.fixture
def fresh_amqp_url(broker_url: str) -> Iterator[str]:
    """A vhost of its own for one test (empty queues)."""
    with servers.vhost(broker_url) as url:
        yield url


class _Throwaway(Protocol):
    def start(self) -> None: ...
    def cleanup(self) -> None: ...


_T = TypeVar("_T", bound=_Throwaway)


def _throwaway(available: Callable[[], str | None], make: Callable[[], _T]) -> Iterator[_T]:
    """A server of a test's own, started, and removed afterwards; skipped where it cannot run."""
    reason = available()
    if reason:
        pytest.skip(reason)
    server = make()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def throwaway_rabbit() -> Iterator[rabbit_node.RabbitNode]:
    """A RabbitMQ node of its own (own ports and node name), for tests that restart the broker."""
    yield from _throwaway(rabbit_node.available, rabbit_node.RabbitNode)


@pytest.fixture(scope="module")
def throwaway_pg() -> Iterator[pg_cluster.PgCluster]:
    """A PostgreSQL cluster of its own (temporary directory, own port), for tests that restart
    the database; shared by a module's tests."""
    yield from _throwaway(pg_cluster.available, pg_cluster.PgCluster)


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    with schema(pg_url) as name:
        yield name


@pytest.fixture(autouse=True)
def _no_caller_bound() -> Iterator[None]:
    """Each test starts with no case or actor bound: code under test binds them (as a gRPC call
    or a message does, in a scope the interceptor or consumer resets), and a servicer called
    directly would otherwise leave its caller to the next test."""
    import structlog

    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()


# ---- report for .ci/run: integration and browser tests must have run and none been skipped ----
_counts = {"integration_passed": 0, "integration_failed": 0, "integration_skipped": 0, "browser_passed": 0,
           "browser_failed": 0, "browser_skipped": 0, "total": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        integration = "integration" in report.keywords or "e2e" in report.keywords
        if report.when == "call":
            _counts["total"] += 1
        if integration:
            key = {"passed": "integration_passed", "failed": "integration_failed"}.get(report.outcome,
                                                                                  "integration_skipped")
            _counts[key] += 1
        if "browser" in report.keywords:
            _counts[{"passed": "browser_passed", "failed": "browser_failed"}.get(report.outcome, "browser_skipped")] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    out = Path(os.environ.get("HALL_TEST_REPORT", ROOT / "var" / "test-report.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**_counts, "exitstatus": int(exitstatus)}))


# Tests on a server of their own (a throwaway RabbitMQ node or PostgreSQL cluster, restarted or
# killed under the code) are integration tests too: .ci/run fails if they were skipped.
_REAL = {"broker_url", "pg_url", "amqp_url", "fresh_amqp_url", "pg_schema", "throwaway_rabbit", "throwaway_pg"}
# Fixtures that reach PostgreSQL at run time (request.getfixturevalue) unless parametrized "sqlite".
_REAL_UNLESS_SQLITE = {"make_core"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    adapter = config.getoption("adapter")
    if adapter:
        from services.adapters.sdk.pytest_plugin import belongs_to

        kept = [item for item in items if belongs_to(item, adapter)]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        params = {v for v in getattr(getattr(item, "callspec", None), "params", {}).values() if isinstance(v, str)}
        # A fixture parametrized over databases ("postgresql", "sqlite") runs its PostgreSQL
        # variant against the real server.
        if _REAL & names or "postgresql" in params or (_REAL_UNLESS_SQLITE & names and "sqlite" not in params):
            item.add_marker(pytest.mark.integration)
