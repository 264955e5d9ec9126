"""The departments stationed in the hall (services/adapters/departments.toml), read once.

This module imports no adapter and no nameko: the suite, the platform services, the manifests
and the tests read the list from here. HALL_DEPARTMENTS_FILE points at another file (a hall
that adds its own departments, or a test with a scaffolded one).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from services.runtime.config import ConfigError

DEFAULT_FILE = Path(__file__).with_name("departments.toml")
CODE = re.compile(r"[a-z][a-z0-9_]{1,30}")
_KEYS = {"package", "desk_port", "desk"}


@dataclass(frozen=True)
class Entry:
    code: str
    package: str
    desk_port: int
    desk: bool

    @property
    def desk_address_setting(self) -> str:
        """The setting that tells other departments' adapters where this desk answers."""
        return f"DESK_{self.code.upper()}_ADDR"


def registry_file() -> Path:
    return Path(os.environ.get("HALL_DEPARTMENTS_FILE") or DEFAULT_FILE)


@cache
def _read(path: Path) -> tuple[Entry, ...]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"department registry {path}: {exc}") from None
    entries: list[Entry] = []
    ports: dict[int, str] = {}
    for code, table in data.items():
        where = f"department registry {path}, [{code}]"
        if not CODE.fullmatch(code):
            raise ConfigError(f"{where}: a code is lower-case letters, digits and _")
        if not isinstance(table, dict) or set(table) - _KEYS:
            raise ConfigError(f"{where}: only {', '.join(sorted(_KEYS))} may be set")
        port = table.get("desk_port")
        if not isinstance(port, int) or not 1024 <= port <= 65535:
            raise ConfigError(f"{where}: desk_port must be a port number (1024-65535)")
        if port in ports:
            raise ConfigError(f"{where}: desk_port {port} is {ports[port]}'s already")
        ports[port] = code
        desk = table.get("desk", False)
        if not isinstance(desk, bool):
            raise ConfigError(f"{where}: desk is true or false")
        entries.append(Entry(code, str(table.get("package", f"services.adapters.{code}")), port, desk))
    return tuple(entries)


def reload() -> None:
    """Read the file again (after the scaffold added a department)."""
    _read.cache_clear()


def entries() -> list[Entry]:
    return list(_read(registry_file()))


def codes() -> list[str]:
    return [e.code for e in entries()]


def entry(code: str) -> Entry:
    for e in entries():
        if e.code == code:
            return e
    raise ConfigError(f"no department {code!r} in {registry_file()} (known: {', '.join(codes())})")


def desks() -> list[Entry]:
    return [e for e in entries() if e.desk]
