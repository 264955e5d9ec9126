"""structlog JSON logs with case id and actor id bound from context and personal data masked."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values are personal data: masked whatever their content.
_PERSONAL_KEYS = {"id_number", "phone", "legal_rep_id", "applicant_id", "mobile"}
# Resident ID numbers (18 characters) and mainland mobile numbers appearing inside free text.
_RIC = re.compile(r"\b(\d{6})\d{8}(\d{3}[\dXx])\b")
_PHONE = re.compile(r"\b(1\d{2})\d{4}(\d{4})\b")


def mask(value: str) -> str:
    """Keep the first and last characters of a personal value, hide the rest."""
    if len(value) <= 4:
        return "*" * len(value)
    keep = 3 if len(value) < 11 else 4
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def mask_text(text: str) -> str:
    text = _RIC.sub(lambda m: m.group(1) + "********" + m.group(2), text)
    return _PHONE.sub(lambda m: m.group(1) + "****" + m.group(2), text)


def _mask_personal(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key in _PERSONAL_KEYS and isinstance(value, str):
            event[key] = mask(value)
        elif isinstance(value, str):
            event[key] = mask_text(value)
    return event


def configure(service: str, level: str = "info") -> structlog.stdlib.BoundLogger:
    """Configure JSON logging on stdout for this process; returns the service's logger."""
    numeric = getattr(logging, level.upper())
    logging.basicConfig(stream=sys.stdout, level=numeric, format="%(message)s")
    for noisy in ("pika", "kombu", "amqp", "alembic", "nameko", "eventlet"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _mask_personal,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.clear_contextvars()
    return structlog.get_logger(service=service)  # type: ignore[no-any-return]
