"""A throwaway RabbitMQ node on its own ports and node name, for tests that stop or kill the
broker (the shared one is never touched). Needs rabbitmq-server on this machine and root (the
Debian start script switches to the rabbitmq user, so the node's directories belong to it)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.support.ports import free_port


def available() -> str | None:
    """None when a throwaway node can be started here, else the reason it cannot."""
    if shutil.which("rabbitmq-server") is None or shutil.which("rabbitmqctl") is None:
        return "rabbitmq-server is not installed"
    if os.geteuid() != 0:
        return "starting a RabbitMQ node needs root (its directories must belong to the rabbitmq user)"
    return None


class RabbitNode:
    def __init__(self, advanced: str = "") -> None:
        """`advanced`: an advanced.config term for this node (settings rabbitmq.conf has no key for)."""
        self.dir = Path(tempfile.mkdtemp(prefix="hall-rabbit-"))
        self.name = f"hallfaults{uuid.uuid4().hex[:6]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        self._proc: subprocess.Popen[bytes] | None = None
        (self.dir / "mnesia").mkdir()
        (self.dir / "log").mkdir()
        (self.dir / "plugins").write_text("[].")
        # Our own config file: the machine's /etc/rabbitmq/rabbitmq.conf pins the shared node's port.
        (self.dir / "rabbitmq.conf").write_text(f"listeners.tcp.local = 127.0.0.1:{self.port}\n")
        (self.dir / "advanced.config").write_text(advanced or "[].")
        shutil.chown(self.dir, "rabbitmq", "rabbitmq")
        for p in self.dir.rglob("*"):
            shutil.chown(p, "rabbitmq", "rabbitmq")

    def _env(self) -> dict[str, str]:
        return {**os.environ, "RABBITMQ_NODENAME": self.name, "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port), "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.dir / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "plugins"),
                "RABBITMQ_PID_FILE": str(self.dir / "pid"), "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"), "RABBITMQ_FEATURE_FLAGS_FILE": str(self.dir / "ff"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.dir / "advanced.config")}

    def start(self, timeout: float = 90) -> None:
        self._proc = subprocess.Popen(["rabbitmq-server"], env=self._env(), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                subprocess.run(["rabbitmqctl", "-q", "-n", self.name, "await_startup"], check=True,
                               capture_output=True, timeout=60)
                return
            except (OSError, subprocess.SubprocessError):
                time.sleep(0.5)
        raise TimeoutError(f"RabbitMQ node {self.name} did not start; logs in {self.dir / 'log'}")

    def stop(self) -> None:
        subprocess.run(["rabbitmqctl", "-q", "-n", self.name, "stop"], capture_output=True, timeout=60)
        if self._proc is not None:
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def queue_depth(url: str, queue: str) -> int:
    """Messages ready in `queue` (not those delivered and unacknowledged)."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    try:
        return int(conn.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        conn.close()


def drain(url: str, queue: str) -> list[tuple[Any, bytes]]:
    """Take every message ready in `queue`: (properties, body) in queue order."""
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(url))
    taken: list[tuple[Any, bytes]] = []
    try:
        ch = conn.channel()
        while True:
            method, props, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                return taken
            taken.append((props, body))
    finally:
        conn.close()
