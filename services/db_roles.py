"""One PostgreSQL role per service, with rights on its own schema only.

    python -m services.db_roles [--prefix hall] [--services intake,router,...]  # prints the SQL
    python -m services.db_roles --apply postgresql://admin@host/hall         # runs it

Each service `s` (intake, router, fees, supervision, and each department's adapter and desk,
which share `dept_<code>`) logs in as `<prefix>_<s>`, which owns schema `<prefix>_<s>` and has no
right on any other schema (PUBLIC's rights on `public` are revoked for it). It migrates its own
schema at start.

The audit trail is kept apart from whoever writes it: schema `<prefix>_audit` and its tables are
owned by `<prefix>_audit_owner` (the migration's login, used by nothing else), and the service's
login `<prefix>_audit` may SELECT and INSERT there and nothing else: no UPDATE, DELETE or
TRUNCATE, and, not being the owner, no ALTER TABLE and no DISABLE TRIGGER. Run the audit
migrations as the owner (`DATABASE_URL=<owner's url> python -m services.db_roles
--migrate-audit`) before the service starts; the service's own start-up then changes nothing.

Passwords come from HALL_DB_PASSWORD_<ROLE> (upper case, e.g. HALL_DB_PASSWORD_HALL_AUDIT), else
are generated and printed once (to put into the Secrets hall-db-<service>: docs/operations.md).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from services.adapters import registry

PLATFORM = ("intake", "router", "fees", "supervision")
AUDIT = "audit"


def services() -> list[str]:
    """Every schema's service: the platform's, audit, and one per department (adapter and desk)."""
    return [*PLATFORM, AUDIT, *(f"adapter_{code}" for code in sorted(registry.codes()))]


def _ident(name: str) -> str:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain identifier: {name!r}")
    return f'"{name}"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Login:
    role: str
    password: str


def password(role: str) -> str:
    return os.environ.get(f"HALL_DB_PASSWORD_{role.upper()}") or secrets.token_urlsafe(24)


def _create_role(role: str, pw: str) -> list[str]:
    # CREATE ROLE has no IF NOT EXISTS: a DO block makes provisioning re-runnable (rotation too).
    r = _ident(role)
    return [f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {_literal(role)}) THEN "
            f"CREATE ROLE {r} LOGIN; END IF; END $$",
            f"ALTER ROLE {r} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD {_literal(pw)}",
            f"REVOKE ALL ON SCHEMA public FROM {r}"]


def statements(service: str, prefix: str = "hall", passwords: dict[str, str] | None = None) -> tuple[list[str], list[Login]]:
    """The SQL that gives `service` its role(s) and schema, and the logins it creates."""
    passwords = passwords or {}
    schema = f"{prefix}_{service}"
    s = _ident(schema)
    if service != AUDIT:
        role = f"{prefix}_{service}"
        pw = passwords.get(role) or password(role)
        return [*_create_role(role, pw), f"CREATE SCHEMA IF NOT EXISTS {s} AUTHORIZATION {_ident(role)}",
                f"ALTER SCHEMA {s} OWNER TO {_ident(role)}"], [Login(role, pw)]
    owner, writer = f"{prefix}_audit_owner", f"{prefix}_audit"
    o, w = _ident(owner), _ident(writer)
    owner_pw, writer_pw = passwords.get(owner) or password(owner), passwords.get(writer) or password(writer)
    sql = [*_create_role(owner, owner_pw), *_create_role(writer, writer_pw),
           f"CREATE SCHEMA IF NOT EXISTS {s} AUTHORIZATION {o}", f"ALTER SCHEMA {s} OWNER TO {o}",
           f"REVOKE ALL ON SCHEMA {s} FROM {w}", f"GRANT USAGE ON SCHEMA {s} TO {w}",
           f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {s} TO {w}",
           f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {w}",
           # Tables the owner's migrations create later get the same, and no more.
           f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT SELECT, INSERT ON TABLES TO {w}",
           f"ALTER DEFAULT PRIVILEGES FOR ROLE {o} IN SCHEMA {s} GRANT USAGE ON SEQUENCES TO {w}"]
    return sql, [Login(owner, owner_pw), Login(writer, writer_pw)]


def grant_audit(prefix: str = "hall") -> list[str]:
    """Run after the owner's migrations: the writer's rights on tables that exist now."""
    s, w = _ident(f"{prefix}_audit"), _ident(f"{prefix}_audit")
    return [f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {s} TO {w}",
            f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {w}"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.db_roles", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prefix", default="hall")
    parser.add_argument("--services", default=",".join(services()))
    parser.add_argument("--apply", metavar="ADMIN_URL", help="run the statements as this (admin) login")
    parser.add_argument("--migrate-audit", action="store_true",
                        help="migrate the audit schema as the owner login in DATABASE_URL")
    args = parser.parse_args(argv)
    if args.migrate_audit:
        from services.runtime import db

        engine = db.make_engine(os.environ["DATABASE_URL"], f"{args.prefix}_audit")
        db.migrate(engine, Path(__file__).resolve().parent / "audit" / "migrations", "alembic_version_audit")
        engine.dispose()
        return 0
    chosen = [s for s in args.services.split(",") if s]
    unknown = set(chosen) - set(services())
    if unknown:
        parser.error(f"unknown services: {', '.join(sorted(unknown))}")
    sql: list[str] = []
    logins: list[Login] = []
    for service in chosen:
        more, created = statements(service, args.prefix)
        sql += more
        logins += created
    if args.apply:
        import sqlalchemy as sa

        engine = sa.create_engine(args.apply.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.begin() as conn:
            for statement in sql:
                conn.exec_driver_sql(statement)
        engine.dispose()
    else:
        print(";\n".join(sql) + ";")
    for login in logins:
        print(f"-- {login.role}: {login.password}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
