"""Prometheus metrics of every process: gRPC calls and consumed messages, by outcome and latency.

Exposed on METRICS_PORT (default 0: off) by `serve()`.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from services.runtime.config import env_int

GRPC_CALLS = Counter("hall_grpc_calls_total", "gRPC calls served", ["service", "method", "code"])
GRPC_SECONDS = Histogram("hall_grpc_call_seconds", "gRPC call duration", ["service", "method"])
MESSAGES = Counter("hall_messages_total", "messages consumed", ["service", "queue", "outcome"])
MESSAGE_SECONDS = Histogram("hall_message_seconds", "time from delivery to settlement", ["service", "queue"])
BATCH_SIZE = Histogram("hall_batch_messages", "messages handled in one transaction", ["service"],
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128))
# The router's supervision: read from its database by every replica (alert on max, not sum).
OPEN_INCIDENTS = Gauge("hall_router_open_incidents", "steps waiting for an operator's RetryIncident")
# Supervision's cards not withdrawn, by level, counted after each sweep (alert on max, not sum).
OPEN_CARDS = Gauge("hall_supervision_open_cards", "warning cards open or under appeal", ["level"])

_started = False


def serve() -> int:
    """Start the /metrics endpoint once if METRICS_PORT is set; returns the port (0: off)."""
    global _started
    port = env_int("METRICS_PORT", 0, maximum=65535)
    if port and not _started:
        start_http_server(port)
        _started = True
    return port


def grpc_call(service: str, method: str, code: str, seconds: float) -> None:
    GRPC_CALLS.labels(service, method, code).inc()
    GRPC_SECONDS.labels(service, method).observe(seconds)


def message(service: str, queue: str, outcome: str, seconds: float) -> None:
    MESSAGES.labels(service, queue, outcome).inc()
    MESSAGE_SECONDS.labels(service, queue).observe(seconds)


def batch(service: str, size: int) -> None:
    BATCH_SIZE.labels(service).observe(size)
