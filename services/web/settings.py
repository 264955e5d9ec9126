"""The web app's settings (docs/configuration.md), read once at start."""

from __future__ import annotations

import os
from dataclasses import dataclass

from services.ports import PLATFORM_PORTS, WEB_PORT
from services.runtime.config import env_int


@dataclass(frozen=True)
class WebSettings:
    host: str
    port: int
    supervision: str  # host:port of the supervision service
    intake: str  # host:port of intake (its queue feeds the hall board)
    # How often an open page's event stream reads the feed (it also says "still here" then).
    poll_seconds: float

    @classmethod
    def from_environment(cls) -> WebSettings:
        return cls(host=os.environ.get("WEB_HOST", "127.0.0.1"), port=env_int("WEB_PORT", WEB_PORT, maximum=65535),
                   supervision=os.environ.get("SUPERVISION_ADDR", f"127.0.0.1:{PLATFORM_PORTS['supervision']}"),
                   intake=os.environ.get("INTAKE_ADDR", f"127.0.0.1:{PLATFORM_PORTS['intake']}"),
                   poll_seconds=env_int("WEB_POLL_MS", 1000, minimum=100, maximum=60000) / 1000)
