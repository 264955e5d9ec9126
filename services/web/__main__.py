"""Entry point: python -m services.web (the hall's web pages; uvicorn serving the Starlette app)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Iterator

import uvicorn

from services.runtime import metrics, priority
from services.runtime.config import env_int
from services.runtime.logging import configure
from services.web.app import build
from services.web.board import Board
from services.web.dashboard import Dashboard
from services.web.settings import WebSettings


def main() -> None:
    settings = WebSettings.from_environment()
    priority.lower(env_int("CPU_NICE", 0, maximum=19))  # before any thread starts: threads inherit it
    level = os.environ.get("LOG_LEVEL", "info")
    log = configure("web", level)
    # uvicorn's own lines (its start, each connection) only at debug: the terminal is for people.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    metrics.serve()  # METRICS_PORT, like every process (deploy/k8s scrapes it)
    dashboard = Dashboard(settings.supervision, settings.poll_seconds)
    board = Board(settings.intake, settings.supervision, settings.poll_seconds)
    log.info("started", url=f"http://{settings.host}:{settings.port}/supervision",
             board=f"http://{settings.host}:{settings.port}/board", supervision=settings.supervision, intake=settings.intake)
    server = _Server(uvicorn.Config(build(dashboard, board), host=settings.host, port=settings.port, log_config=None,
                                    access_log=False, timeout_graceful_shutdown=2))
    server.run()
    dashboard.close()
    board.close()
    log.info("stopped")


class _Server(uvicorn.Server):
    """uvicorn, stopping on SIGTERM or SIGINT like the suite's other processes: it stops taking
    connections, lets the open ones finish (an event stream notices at its next poll) and exits
    0. uvicorn's own handling raises the signal again once it has stopped, so the process would
    die of it (-15) and look like a crash to the suite and to Kubernetes."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


if __name__ == "__main__":
    main()
