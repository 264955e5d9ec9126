"""No schema changes at start in production: the migration Job (`python -m services.migrate`)
migrates each schema, the services wait for it (DATABASE_MIGRATE=wait) and change nothing."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from services import migrate
from services.runtime import db
from services.runtime.config import ConfigError

pytestmark = pytest.mark.integration


@pytest.fixture
def service_env(monkeypatch, pg_url, pg_schema):
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("DATABASE_SCHEMA", pg_schema)
    return pg_url, pg_schema


def test_a_service_waits_for_the_job_and_changes_nothing(service_env, monkeypatch):
    url, schema = service_env
    monkeypatch.setenv("DATABASE_MIGRATE", "wait")
    monkeypatch.setenv("DATABASE_MIGRATE_WAIT_SECONDS", "60")
    migrations, table = migrate.migrations_of("router")
    engine = db.make_engine(url, schema)
    try:
        job = threading.Timer(1.5, migrate.main, args=(["router"],))  # the Job, a moment after the pods
        job.start()
        started = time.monotonic()
        db.prepare_schema(engine, migrations, table)
        job.join()
        assert time.monotonic() - started >= 1.0  # it waited for the Job, it did not migrate itself
        assert db.current_revision(engine, table) == db.head_revision(migrations)
    finally:
        engine.dispose()


def test_a_service_whose_schema_never_comes_stops_saying_why(service_env, monkeypatch):
    url, schema = service_env
    monkeypatch.setenv("DATABASE_MIGRATE", "wait")
    monkeypatch.setenv("DATABASE_MIGRATE_WAIT_SECONDS", "1")
    migrations, table = migrate.migrations_of("intake")
    engine = db.make_engine(url, schema)
    try:
        with pytest.raises(ConfigError, match="migration Job"):
            db.prepare_schema(engine, migrations, table)
        with engine.connect() as conn:  # nothing was created
            assert not sa.inspect(conn).get_table_names(schema=schema)
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", ["audit", "adapter_business", "supervision"])
def test_the_job_migrates_every_kind_of_schema(service_env, service):
    url, schema = service_env
    assert migrate.main([service]) == 0
    migrations, table = migrate.migrations_of(service)
    engine = db.make_engine(url, schema)
    try:
        assert db.current_revision(engine, table) == db.head_revision(migrations)
    finally:
        engine.dispose()


def test_an_unknown_schema_is_named():
    with pytest.raises(ConfigError, match="no schema called"):
        migrate.migrations_of("adapter_nowhere")
