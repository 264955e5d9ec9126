"""The migration Job's entry point (Kubernetes: deploy/k8s/base/migrate.yaml, one container per
schema): bring one service's schema to the newest revision, then exit.

    python -m services.migrate intake|router|fees|audit|supervision|adapter_<department>

DATABASE_URL and DATABASE_SCHEMA as the service has them; for audit, the owner's login
(hall_audit_owner: the service's own may not change its tables, services/db_roles.py). The
services themselves then run with DATABASE_MIGRATE=wait: they change no schema at start.
"""

from __future__ import annotations

import sys
from pathlib import Path

from services.adapters import registry
from services.runtime import config, db, logging

SERVICES = Path(__file__).resolve().parent
PLATFORM = ("intake", "router", "fees", "audit", "supervision")


def migrations_of(service: str) -> tuple[Path, str]:
    """(migrations directory, version table) of a service's schema."""
    if service in PLATFORM:
        return SERVICES / service / "migrations", f"alembic_version_{service}"
    code = service.removeprefix("adapter_")
    if service.startswith("adapter_") and code in registry.codes():
        from services.adapters.sdk.registry import load_department

        department = load_department(code)
        if department.migrations is None:
            raise config.ConfigError(f"department {code} has no migrations")
        return department.migrations, f"alembic_version_adapter_{code}"
    raise config.ConfigError(f"no schema called {service!r}: one of {', '.join(PLATFORM)} or adapter_<department>")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.exit(__doc__)
    migrations, version_table = migrations_of(args[0])
    settings = config.load(args[0])
    log = logging.configure(f"migrate-{args[0]}", settings.log_level)
    engine = db.make_engine(settings.database_url, settings.database_schema)
    try:
        db.migrate(engine, migrations, version_table)
        log.info("schema migrated", version_table=version_table, revision=db.current_revision(engine, version_table))
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
