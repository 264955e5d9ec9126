"""Real RabbitMQ and PostgreSQL for the tests.

Where they come from, in order:
  1. HALL_TEST_AMQP_URL / HALL_TEST_DATABASE_URL (environment), e.g.
     HALL_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2F
     HALL_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test
  2. the servers this machine kind runs locally (RabbitMQ 127.0.0.1:5672 guest/guest,
     PostgreSQL 127.0.0.1:5432 database test), when they answer;
  3. testcontainers, when a Docker engine answers;
  4. otherwise the run stops with a message saying what to set.
Isolation: a unique RabbitMQ vhost per test session (rabbitmqctl, when the broker is local) and a
unique PostgreSQL schema per test; both are removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote, urlparse

LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"
LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/test"


class NoServer(RuntimeError):
    pass


def _answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def _docker() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
        return True
    except Exception:  # noqa: BLE001
        return False


@contextmanager
def rabbitmq() -> Iterator[str]:
    url = os.environ.get("HALL_TEST_AMQP_URL")
    if url:
        yield url
        return
    if _answers(LOCAL_AMQP, 5672):
        yield LOCAL_AMQP
        return
    if _docker():
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:3.13") as container:
            params = container.get_connection_params()
            yield f"amqp://guest:guest@{params.host}:{params.port}/%2F"
        return
    raise NoServer("no RabbitMQ: set HALL_TEST_AMQP_URL=amqp://user:pass@host:5672/vhost, "
                   "start one locally (rabbitmq-server -detached), or run a Docker engine for testcontainers")


@contextmanager
def postgres() -> Iterator[str]:
    url = os.environ.get("HALL_TEST_DATABASE_URL")
    if url:
        yield url
        return
    if _answers(LOCAL_PG, 5432):
        yield LOCAL_PG
        return
    if _docker():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15") as container:
            yield container.get_connection_url().replace("+psycopg2", "")
        return
    raise NoServer("no PostgreSQL: set HALL_TEST_DATABASE_URL=postgresql://user@host:5432/db, start one "
                   "locally (pg_ctlcluster ... main start), or run a Docker engine for testcontainers")


def rabbitmqctl_available(url: str) -> bool:
    host = urlparse(url).hostname
    return shutil.which("rabbitmqctl") is not None and host in ("127.0.0.1", "localhost")


def ctl(*args: str, node: str | None = None) -> None:
    cmd = ["rabbitmqctl", "-q"] + (["-n", node] if node else []) + list(args)
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


@contextmanager
def vhost(url: str) -> Iterator[str]:
    """A fresh vhost on the broker at `url` (when we can make one), removed afterwards."""
    if not rabbitmqctl_available(url):
        yield url
        return
    name = f"hall-test-{uuid.uuid4().hex[:10]}"
    user = urlparse(url).username or "guest"
    ctl("add_vhost", name)
    ctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
    parsed = urlparse(url)
    try:
        yield parsed._replace(path="/" + quote(name, safe="")).geturl()
    finally:
        ctl("delete_vhost", name)
