"""How every process of the suite stops: on SIGTERM or SIGINT, once, whatever arrives after.
Used by the platform services, the desks and the adapters (nameko's runner) alike; it imports
neither grpcio nor eventlet (under eventlet's monkey-patching its waits are green)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)


def run_until_signal(on_stop: Callable[[], None], stop: threading.Event | None = None) -> None:
    """Block the main thread until SIGTERM or SIGINT (or `stop` is set), then call `on_stop` once."""
    stop = stop or threading.Event()
    received: list[int] = []

    def _handler(signum: int, _: Any) -> None:
        # Nothing that takes a lock: Ctrl-C and the supervisor's SIGTERM come together, and Python
        # runs the second handler inside the first; one that was logging (or setting an Event)
        # would wait on its own lock for ever. (On a slow host, four Ctrl-C stops of `make run` in
        # twelve left one service hung that way until the suite killed it after 20 s.)
        received.append(signum)

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)
    # The main thread wakes five times a second: a handler runs in it, between bytecodes, and a
    # signal the kernel hands to another thread does not interrupt a wait without timeout.
    while not received and not stop.wait(0.2):
        pass
    if received:
        log.info("signal received; shutting down", signal=signal.Signals(received[0]).name)
        stop.set()
    # Stopping already: a later SIGTERM or SIGINT means nothing more. Ignored, rather than left to
    # Python, which puts the default action back while the interpreter exits (killed by a late one).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    on_stop()
    log.info("stopped")
