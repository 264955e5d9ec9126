"""gRPC client channels that carry the case id and actor id of the current context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from services.runtime import context


class _ContextClientInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    def _augment(self, details: Any) -> Any:
        metadata: list[tuple[str, str | bytes]] = list(details.metadata or [])
        present = {k for k, _ in metadata}
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


def channel(target: str) -> grpc.Channel:
    return grpc.intercept_channel(grpc.insecure_channel(target, options=CHANNEL_OPTIONS), _ContextClientInterceptor())
