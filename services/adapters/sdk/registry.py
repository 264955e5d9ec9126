"""Where departments are found: services/adapters/<code>/ exports DEPARTMENT (a Department subclass)."""

from __future__ import annotations

import importlib

from services.adapters.sdk.department import Department
from services.runtime.config import ConfigError


def load_department(code: str) -> Department:
    if not code.replace("_", "").isalnum():
        raise ConfigError(f"bad department code {code!r}")
    try:
        module = importlib.import_module(f"services.adapters.{code}")
    except ModuleNotFoundError:
        raise ConfigError(f"no adapter for department {code!r} (expected services/adapters/{code}/)") from None
    return module.DEPARTMENT()  # type: ignore[no-any-return]
