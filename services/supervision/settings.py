"""Supervision's settings (docs/configuration.md), read once at start; a bad value stops it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from services.runtime.config import ConfigError, env_int
from services.supervision.ladder import Prewarning
from services.supervision.reports import Targets


def _percent(name: str, default: str) -> int:
    """A target in percent (99, 99.5) as basis points."""
    raw = os.environ.get(name, default).strip().rstrip("%")
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: a percentage, e.g. 99 or 99.5") from None
    if not 0 <= value <= 100:
        raise ConfigError(f"{name}={raw!r}: between 0 and 100")
    return round(value * 100)


def _ids(name: str, default: str) -> frozenset[str]:
    return frozenset(x.strip() for x in os.environ.get(name, default).split(",") if x.strip())


@dataclass(frozen=True)
class SupervisionSettings:
    prewarning: Prewarning
    sweep_seconds: int
    # Events gathered into one transaction: supervision is off the case path, and a card a
    # moment later costs nothing, while a transaction per event costs the case path's database.
    linger_ms: int
    # Who holds the roles supervision checks, until the hall's sign-in (issue 23) carries them in
    # verified tokens: the hall's head decides extensions, supervisors decide appeals.
    hall_heads: frozenset[str]
    supervisors: frozenset[str]
    targets: Targets
    # Open WatchFeed streams at once; each holds a server thread while it lasts.
    max_feed_watches: int

    @classmethod
    def from_environment(cls) -> SupervisionSettings:
        return cls(prewarning=Prewarning.parse(os.environ.get("SUPERVISION_PREWARNING", "1")),
                   sweep_seconds=env_int("SUPERVISION_SWEEP_SECONDS", 30, minimum=1),
                   linger_ms=env_int("SUPERVISION_LINGER_MS", 500, maximum=5000),
                   hall_heads=_ids("SUPERVISION_HALL_HEADS", "head-0001"),
                   supervisors=_ids("SUPERVISION_SUPERVISORS", "inspector-0001"),
                   targets=Targets(on_site_bp=_percent("SUPERVISION_TARGET_ON_SITE", "90"),
                                   on_time_bp=_percent("SUPERVISION_TARGET_ON_TIME", "99"),
                                   satisfaction_bp=_percent("SUPERVISION_TARGET_SATISFACTION", "95")),
                   max_feed_watches=env_int("SUPERVISION_MAX_FEED_WATCHES", 16, minimum=1, maximum=1000))
