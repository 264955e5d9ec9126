"""Every service's migrations go up, down to nothing, and up again on PostgreSQL."""

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from services.adapters import provision
from services.runtime import db

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {name: ROOT / "services" / name / "migrations" for name in ("intake", "router", "fees", "audit")}
SERVICES.update({f"adapter_{code}": ROOT / "services" / "adapters" / code / "migrations"
                 for code in provision.departments()})


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_up_down_up(service, pg_url, pg_schema):
    engine = db.make_engine(pg_url, pg_schema)
    version_table = f"alembic_version_{service}"
    db.migrate(engine, SERVICES[service], version_table)
    tables = set(inspect(engine).get_table_names())
    assert len(tables) > 1
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / "runtime" / "alembic"))
    cfg.set_main_option("version_locations", str(SERVICES[service]))
    cfg.attributes["version_table"] = version_table
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(inspect(engine).get_table_names()) == {version_table}
    db.migrate(engine, SERVICES[service], version_table)
    assert set(inspect(engine).get_table_names()) == tables
    engine.dispose()
