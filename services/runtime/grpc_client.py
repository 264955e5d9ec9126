"""gRPC client channels that carry the caller's credentials and the case id and actor id of the
current context.

The caller is a person's token (the counter client passes it), else this process's service token
(HALL_SERVICE_TOKEN, minted by `make run`); with TLS configured (services/runtime/tls.py) the
channel presents this process's client certificate as well.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import grpc

from services.runtime import auth, context, tls


class _ContextClientInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def __init__(self, token: str) -> None:
        self._token = token

    def _augment(self, details: Any) -> Any:
        metadata: list[tuple[str, str | bytes]] = list(details.metadata or [])
        present = {k for k, _ in metadata}
        if self._token and auth.AUTHORIZATION not in present:
            metadata.append((auth.AUTHORIZATION, f"Bearer {self._token}"))
        for key, value in context.to_headers().items():
            if key not in present:
                metadata.append((key, value))
        return details._replace(metadata=tuple(metadata)) if hasattr(details, "_replace") else _Details(details, metadata)

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._augment(details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._augment(details), request)


class _Details(grpc.ClientCallDetails):
    def __init__(self, base: Any, metadata: list[tuple[str, str | bytes]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = tuple(metadata)
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


# gRPC's default reconnect backoff grows to two minutes: after a server restart that took 20 s, a
# client could go on failing fast (UNAVAILABLE) for another 30 s without trying. A counter app
# should be back within two seconds of the service.
CHANNEL_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)


def channel(target: str, *, token: str | None = None) -> grpc.Channel:
    """A channel to `target` calling as `token` (default: this process's HALL_SERVICE_TOKEN)."""
    token = os.environ.get("HALL_SERVICE_TOKEN", "") if token is None else token
    files = tls.configured()
    raw = (grpc.secure_channel(target, tls.channel_credentials(files), options=CHANNEL_OPTIONS) if files
           else grpc.insecure_channel(target, options=CHANNEL_OPTIONS))
    return grpc.intercept_channel(raw, _ContextClientInterceptor(token))
