"""An adapter's settings, read once from the environment at start into typed objects
(docs/configuration.md). A department's rules get `DepartmentSettings` through their
constructor and never read the environment themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from services.adapters import registry
from services.runtime import config


@dataclass(frozen=True)
class DepartmentSettings:
    """What the SDK hands a department's rules."""

    # The administrative division of the hall (GB/T 2260), whose codes the department issues.
    division_code: str
    # Where each department's desk answers (its shared lookups), by department code.
    neighbours: Mapping[str, str] = field(default_factory=dict)
    # How long a call to a neighbour may take, waiting for its channel included.
    neighbour_timeout_s: float = 3.0

    def neighbour(self, code: str) -> str:
        try:
            return self.neighbours[code]
        except KeyError:
            raise config.ConfigError(f"no desk address for department {code!r} (set DESK_{code.upper()}_ADDR)") from None


@dataclass(frozen=True)
class AdapterSettings:
    code: str
    process: config.Settings
    department: DepartmentSettings
    # nameko workers (messages in flight) and transactions at once (each deciding what waits).
    max_workers: int
    committers: int
    # Declare the department's queue at start (false where the broker user may not configure).
    declare: bool


def division_code() -> str:
    """The hall's division: the catalogue's, the one home of it."""
    from services.catalogue import load

    return load().proto.division_code


def department_settings() -> DepartmentSettings:
    neighbours = {e.code: config.env_str(e.desk_address_setting, f"127.0.0.1:{e.desk_port}")
                  for e in registry.entries()}
    return DepartmentSettings(division_code=division_code(), neighbours=neighbours,
                              neighbour_timeout_s=config.env_float("NEIGHBOUR_TIMEOUT_SECONDS", 3.0, minimum=0.1))


def load(code: str) -> AdapterSettings:
    process = config.load(f"adapter_{code}")
    sqlite = process.database_url.startswith("sqlite")
    # SQLite locks the whole file: one worker and one transaction at a time.
    return AdapterSettings(
        code=code, process=process, department=department_settings(),
        max_workers=config.env_int("ADAPTER_MAX_WORKERS", 1 if sqlite else 8, minimum=1, maximum=256),
        committers=config.env_int("ADAPTER_COMMITTERS", 1 if sqlite else 2, minimum=1, maximum=64),
        declare=config.env_choice("ADAPTER_DECLARE", "true", ("true", "false")) == "true",
    )
