"""How `make run` finds its RabbitMQ on a fresh machine, in this order:

1. AMQP_URL, when it is set (it must answer: a wrong setting is said, not worked around);
2. a server on the standard port, 127.0.0.1:5672 (guest/guest);
3. a private node it starts itself under var/rabbitmq when rabbitmq-server is installed (its own
   node name and port, HALL_PRIVATE_AMQP_PORT, default 5673; its data stays there between runs,
   so durable queues keep their messages), stopped when the suite stops;
4. Docker, through testcontainers (the venv has it), when a Docker daemon answers;
5. else one message saying how to get one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

STANDARD_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
HOW_TO_GET_ONE = (
    "no RabbitMQ for the suite: set AMQP_URL to one (amqp://user:password@host:5672/vhost), "
    "or start one on 127.0.0.1:5672 (Debian: apt-get install rabbitmq-server; rabbitmq-server -detached), "
    "or install rabbitmq-server and make run starts a private node under var/rabbitmq, "
    "or start Docker and make run starts one in a container")


class NoBroker(RuntimeError):
    """No broker could be found or started; the message says how to get one."""


@dataclass
class Broker:
    url: str
    how: str  # a few words for the terminal: where it came from
    stop: Callable[[], None] = field(default=lambda: None)


def answers(url: str, timeout: float = 3.0) -> bool:
    """Whether an AMQP server at `url` accepts a connection with its credentials."""
    import logging

    import pika

    # pika logs each refused connection at ERROR: a probe that finds nothing is not an error.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    params = pika.URLParameters(url)
    params.socket_timeout = params.blocked_connection_timeout = timeout
    params.connection_attempts, params.retry_delay = 1, 0
    try:
        pika.BlockingConnection(params).close()
        return True
    except Exception:  # noqa: BLE001 - refused, reset, wrong credentials: not this one
        return False


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def find(env: dict[str, str], var: Path, *, answers: Callable[[str], bool] = answers,
         private: Callable[[Path, int], Broker] | None = None,
         docker: Callable[[], Broker | None] | None = None) -> Broker:
    """The broker the suite should use (see the module's docstring); NoBroker when there is none."""
    if env.get("AMQP_URL"):
        url = env["AMQP_URL"]
        if not answers(url):
            where = urlparse(url)
            raise NoBroker(f"AMQP_URL is set but nothing answers there ({where.hostname}:{where.port or 5672}): "
                           "start that broker, or unset AMQP_URL to let make run find or start one")
        return Broker(url, "AMQP_URL")
    if answers(STANDARD_URL):
        return Broker(STANDARD_URL, "the server on 127.0.0.1:5672")
    if shutil.which("rabbitmq-server"):
        port = int(env.get("HALL_PRIVATE_AMQP_PORT", "5673"))
        return (private or start_private_node)(var / "rabbitmq", port)
    found = (docker or start_container)()
    if found is not None:
        return found
    raise NoBroker(HOW_TO_GET_ONE)


def start_private_node(home: Path, port: int, timeout: float = 120) -> Broker:
    """A RabbitMQ node of the suite's own, its files under `home`; an earlier run's node still
    up on `port` is used as it is."""
    url = f"amqp://guest:guest@127.0.0.1:{port}/%2F"
    name = f"hall{port}@localhost"
    if answers(url):
        return Broker(url, f"the private node under {home} (already running)")
    for d in ("mnesia", "log"):
        (home / d).mkdir(parents=True, exist_ok=True)
    (home / "plugins").write_text("[].")
    # Its own config file: a machine's /etc/rabbitmq/rabbitmq.conf may pin the standard port.
    (home / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{port}\n")
    env = {**os.environ, "RABBITMQ_NODENAME": name, "RABBITMQ_NODE_PORT": str(port),
           "RABBITMQ_DIST_PORT": str(port + 20000), "RABBITMQ_MNESIA_BASE": str(home / "mnesia"),
           "RABBITMQ_LOG_BASE": str(home / "log"), "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "plugins"),
           "RABBITMQ_PID_FILE": str(home / "pid"), "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
           "RABBITMQ_FEATURE_FLAGS_FILE": str(home / "feature_flags")}
    # Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user, who may not reach var/;
    # the script it wraps runs the node as whoever starts it, its files ours.
    debian = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
    server = str(debian) if debian.exists() else "rabbitmq-server"
    proc = subprocess.Popen([server], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # Ctrl-C in the terminal is the suite's to handle
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NoBroker(f"the private RabbitMQ node under {home} did not start (exit {proc.returncode}); "
                           f"its logs are in {home / 'log'}. " + HOW_TO_GET_ONE)
        if _port_open("127.0.0.1", port) and answers(url):
            break
        time.sleep(0.5)
    else:
        proc.kill()
        raise NoBroker(f"the private RabbitMQ node under {home} did not answer within {timeout:.0f}s; "
                       f"its logs are in {home / 'log'}")

    def stop() -> None:
        proc.terminate()  # the start script stops the node cleanly on SIGTERM
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    return Broker(url, f"a private node under {home}, port {port}", stop)


def start_container() -> Broker | None:
    """RabbitMQ in Docker through testcontainers; None when Docker does not answer."""
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
        from testcontainers.rabbitmq import RabbitMqContainer
    except Exception:  # noqa: BLE001 - no Docker, or no testcontainers: the next way, or the message
        return None
    container = RabbitMqContainer("rabbitmq:3.13-management")
    container.start()
    params = container.get_connection_params()
    url = f"amqp://guest:guest@{params.host}:{params.port}/%2F"
    return Broker(url, "a Docker container (testcontainers)", container.stop)
