"""Supervision's settings (docs/configuration.md), read once at start; a bad value stops it."""

from __future__ import annotations

import os
from dataclasses import dataclass

from services.runtime.config import env_int
from services.supervision.ladder import Prewarning


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

    @classmethod
    def from_environment(cls) -> SupervisionSettings:
        return cls(prewarning=Prewarning.parse(os.environ.get("SUPERVISION_PREWARNING", "1")),
                   sweep_seconds=env_int("SUPERVISION_SWEEP_SECONDS", 30, minimum=1),
                   linger_ms=env_int("SUPERVISION_LINGER_MS", 500, maximum=5000),
                   hall_heads=_ids("SUPERVISION_HALL_HEADS", "head-0001"),
                   supervisors=_ids("SUPERVISION_SUPERVISORS", "inspector-0001"))
