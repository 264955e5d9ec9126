"""The case id and actor id that travel with every call and message.

Bound in structlog's contextvars so that every log line carries them; read by the gRPC and AMQP
plumbing to put them into metadata and headers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import structlog

CASE_HEADER = "x-case-id"
ACTOR_HEADER = "x-actor-id"
STEP_HEADER = "x-step-id"


def current() -> dict[str, str]:
    ctx = structlog.contextvars.get_contextvars()
    return {k: str(v) for k, v in ctx.items() if k in ("case_id", "actor_id", "step_id") and v}


def case_id() -> str:
    return current().get("case_id", "")


def actor_id() -> str:
    return current().get("actor_id", "")


def bind(*, case_id: str | None = None, actor_id: str | None = None, step_id: str | None = None) -> None:
    values = {k: v for k, v in (("case_id", case_id), ("actor_id", actor_id), ("step_id", step_id)) if v}
    if values:
        structlog.contextvars.bind_contextvars(**values)


@contextlib.contextmanager
def scope(**values: str | None) -> Iterator[None]:
    """Bind case/actor/step for the duration of a call or a message, then restore."""
    tokens = structlog.contextvars.bind_contextvars(**{k: v for k, v in values.items() if v})
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def to_headers() -> dict[str, str]:
    ctx = current()
    headers = {}
    if "case_id" in ctx:
        headers[CASE_HEADER] = ctx["case_id"]
    if "actor_id" in ctx:
        headers[ACTOR_HEADER] = ctx["actor_id"]
    return headers
