"""Settings from environment variables, with documented defaults; bad values fail at start-up.

Every variable a service reads is listed in docs/configuration.md.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from urllib.parse import urlparse


class ConfigError(RuntimeError):
    """A configuration value is missing or malformed; the process must not start."""


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise ConfigError(f"environment variable {name} is required")
    return value


def env_optional(name: str) -> str | None:
    value = os.environ.get(name, "")
    return value or None


def env_secret(name: str) -> str:
    """A secret from NAME, else from the file NAME_FILE (a mounted Kubernetes Secret); "" if
    neither is set. A named file that cannot be read is a configuration error."""
    value = os.environ.get(name, "")
    path = os.environ.get(f"{name}_FILE", "")
    if not value and path:
        try:
            with open(path, encoding="utf-8") as f:
                value = f.read()
        except OSError as err:
            raise ConfigError(f"{name}_FILE={path!r}: {err.strerror}") from None
    return value


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int = 2**31) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={value} is outside {minimum}..{maximum}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below {minimum}")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name) or default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def _check_url(name: str, value: str, schemes: tuple[str, ...]) -> str:
    scheme = urlparse(value).scheme.split("+")[0]
    if scheme not in schemes:
        raise ConfigError(f"{name}={value!r}: scheme must be one of {', '.join(schemes)}")
    return value


@dataclass(frozen=True)
class Settings:
    """What every service process needs. Service-specific settings live beside the service."""

    service: str
    amqp_url: str
    database_url: str
    database_schema: str | None
    grpc_port: int
    grpc_grace_s: float
    grpc_workers: int
    log_level: str
    prefetch: int
    audit_enabled: bool
    audit_linger_ms: int = 50
    audit_spool_dir: str = ""  # "": call records in memory only
    cpu_nice: int = 0  # steps below normal CPU priority (services/runtime/priority.py)


def load(service: str, *, default_grpc_port: int = 0) -> Settings:
    """Read the common settings of `service` from the environment (see docs/configuration.md)."""
    amqp_url = _check_url(
        "AMQP_URL", env_str("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"), ("amqp", "amqps")
    )
    database_url = _check_url(
        "DATABASE_URL",
        env_str("DATABASE_URL", f"sqlite:///var/{service}.db"),
        ("sqlite", "postgresql", "postgres"),
    )
    schema = env_optional("DATABASE_SCHEMA")
    if schema is not None and not schema.replace("_", "").isalnum():
        raise ConfigError(f"DATABASE_SCHEMA={schema!r} must be letters, digits and underscores")
    return Settings(
        service=service,
        amqp_url=amqp_url,
        database_url=database_url,
        database_schema=schema,
        grpc_port=env_int("GRPC_PORT", default_grpc_port, maximum=65535),
        grpc_grace_s=env_float("GRPC_GRACE_SECONDS", 5.0),
        grpc_workers=env_int("GRPC_WORKERS", 32, minimum=2, maximum=1024),
        log_level=env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
        prefetch=env_int("AMQP_PREFETCH", 50, minimum=1, maximum=10000),
        audit_enabled=env_choice("AUDIT_ENABLED", "true", ("true", "false")) == "true",
        audit_linger_ms=env_int("AUDIT_LINGER_MS", 50, maximum=5000),
        audit_spool_dir=audit_spool_dir(amqp_url),
        cpu_nice=env_int("CPU_NICE", 0, maximum=19),
    )


def audit_spool_dir(amqp_url: str) -> str:
    """AUDIT_SPOOL_DIR: where call records wait on disk until the broker has them ("none": in
    memory only). Default: per broker and vhost under the temporary directory, so a process only
    ever adopts records bound for its own broker."""
    value = os.environ.get("AUDIT_SPOOL_DIR", "")
    if value == "none":
        return ""
    if value:
        return value
    parsed = urlparse(amqp_url)
    key = re.sub(r"[^A-Za-z0-9.]+", "_", f"{parsed.hostname}_{parsed.port or 5672}_{parsed.path.lstrip('/') or '%2F'}")
    return os.path.join(tempfile.gettempdir(), "hall-audit-spool", key)
