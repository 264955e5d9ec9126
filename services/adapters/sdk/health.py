"""The adapter's health endpoint: HTTP on HEALTH_PORT (default 0: off), for `make run` (which
says "suite is up" only once every adapter is ready) and Kubernetes' probes.

  /healthz  200 while the process runs (liveness)
  /readyz   200 once nameko's ServiceRunner has started the department's consumer (it returns
            from start() with the queue consumed) and while the database answers; else 503

Served by eventlet's own WSGI server in a green thread: this process hosts no gRPC server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Engine, text


class Health:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.started = False
        self.stopping = False

    def ready(self) -> tuple[bool, str]:
        if self.stopping:
            return False, "stopping"
        if not self.started:
            return False, "starting"
        try:
            with self._engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure: not ready, and why
            return False, f"database: {type(exc).__name__}"
        return True, "ready"

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            ok, why = True, "alive"
        elif path == "/readyz":
            ok, why = self.ready()
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
        return [why.encode() + b"\n"]


def serve(health: Health, port: int) -> None:
    """Serve `health` on `port` (all interfaces: the pod's probes come from the kubelet)."""
    if not port:
        return
    import eventlet
    from eventlet import wsgi

    listener = eventlet.listen(("0.0.0.0", port))
    eventlet.spawn_n(wsgi.server, listener, health.app, log_output=False)
