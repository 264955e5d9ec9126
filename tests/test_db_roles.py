"""Least privilege in the database (services/db_roles.py), with the roles it creates on the real
server: each service reaches its own schema only; the audit service's login may SELECT and
INSERT and nothing else, and the store works with just that."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from services import db_roles
from services.audit.evidence import CheckpointSigner
from services.audit.store import AuditStore
from services.runtime import db
from tests.audit.test_store import record

pytestmark = pytest.mark.integration
MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "audit" / "migrations"


def login(pg_url: str, role: str) -> str:
    """`pg_url` as another role (the test server trusts local logins; production uses the password)."""
    url = sa.make_url(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    return url.set(username=role, password=None).render_as_string(hide_password=False)


@pytest.fixture
def roles(pg_url) -> Iterator[str]:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    made: list[str] = []
    with admin.begin() as conn:
        for service in ("intake", "router", "audit"):
            sql, logins = db_roles.statements(service, prefix)
            for statement in sql:
                conn.exec_driver_sql(statement)
            made += [x.role for x in logins]
    yield prefix
    with admin.begin() as conn:
        for service in ("intake", "router", "audit"):
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{prefix}_{service}" CASCADE')
        for role in made:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')
    admin.dispose()


def refused(engine: sa.Engine, sql: str) -> str:
    with pytest.raises(DBAPIError) as err, engine.begin() as conn:
        conn.exec_driver_sql(sql)
    return str(err.value.orig)


def test_a_service_reaches_its_own_schema_only(roles, pg_url):
    intake = sa.create_engine(login(pg_url, f"{roles}_intake"))
    router = sa.create_engine(login(pg_url, f"{roles}_router"))
    try:
        with router.begin() as conn:
            conn.exec_driver_sql(f'CREATE TABLE "{roles}_router".cases (id int)')
        with intake.begin() as conn:
            conn.exec_driver_sql(f'CREATE TABLE "{roles}_intake".applications (id int)')  # its own: allowed
        assert "permission denied" in refused(intake, f'SELECT * FROM "{roles}_router".cases')
        assert "permission denied" in refused(intake, f'CREATE TABLE "{roles}_router".sneaky (id int)')
        assert "permission denied" in refused(intake, "CREATE TABLE public.sneaky (id int)")
        assert "permission denied" in refused(intake, f'SELECT * FROM "{roles}_audit".audit_records')
    finally:
        intake.dispose()
        router.dispose()


def test_the_audit_login_may_insert_and_select_and_nothing_else(roles, pg_url):
    schema = f"{roles}_audit"
    owner = db.make_engine(login(pg_url, f"{roles}_audit_owner"), schema)
    db.migrate(owner, MIGRATIONS, "alembic_version_audit")  # as the migration Job does
    owner.dispose()
    writer = db.make_engine(login(pg_url, f"{roles}_audit"), schema)
    try:
        db.migrate(writer, MIGRATIONS, "alembic_version_audit")  # the service's start: changes nothing
        store = AuditStore(sessionmaker(bind=writer, expire_on_commit=False), CheckpointSigner("", ""))
        store.append([record() for _ in range(3)])
        store.checkpoint()
        store.append([record()])
        assert store.check_chain().intact
        for sql in ("UPDATE audit_records SET outcome = 'FORGED'", "DELETE FROM audit_records",
                    "TRUNCATE audit_records", "UPDATE audit_chain_heads SET count = 0", "DELETE FROM audit_checkpoints",
                    "TRUNCATE audit_checkpoints"):
            assert "permission denied" in refused(writer, sql), sql
        for sql in ("ALTER TABLE audit_records DISABLE TRIGGER ALL", "ALTER TABLE audit_records ADD COLUMN x int",
                    "DROP TABLE audit_records", "ALTER TABLE audit_checkpoints DISABLE TRIGGER USER"):
            assert "must be owner" in refused(writer, sql), sql
        assert "permission denied" in refused(writer, "CREATE TABLE shadow (id int)")
        assert "permission denied" in refused(writer, "SET session_replication_role = replica")
    finally:
        writer.dispose()


def test_the_statements_print_for_an_operator(capsys):
    assert db_roles.main(["--services", "intake,audit", "--prefix", "hall"]) == 0
    out, err = capsys.readouterr()
    assert 'CREATE SCHEMA IF NOT EXISTS "hall_audit" AUTHORIZATION "hall_audit_owner"' in out
    assert 'GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA "hall_audit" TO "hall_audit"' in out
    assert "-- hall_intake: " in err and "-- hall_audit_owner: " in err
