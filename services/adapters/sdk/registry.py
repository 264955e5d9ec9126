"""Where departments are found: a package named like the department code, under one of the
parent packages in HALL_ADAPTER_PACKAGES (default services.adapters), exporting DEPARTMENT
(a Department subclass)."""

from __future__ import annotations

import importlib
import os

from services.adapters.sdk.department import Department
from services.runtime.config import ConfigError


def parents() -> list[str]:
    return [p for p in os.environ.get("HALL_ADAPTER_PACKAGES", "services.adapters").split(",") if p]


def department_module(code: str) -> str:
    if not code.replace("_", "").isalnum():
        raise ConfigError(f"bad department code {code!r}")
    for parent in parents():
        name = f"{parent}.{code}"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (exc.name == name or name.startswith(exc.name + ".") or exc.name == parent):
                continue
            raise
        return name
    raise ConfigError(f"no adapter for department {code!r} (looked in {', '.join(parents())})")


def load_department(code: str) -> Department:
    module = importlib.import_module(department_module(code))
    return module.DEPARTMENT()  # type: ignore[no-any-return]
