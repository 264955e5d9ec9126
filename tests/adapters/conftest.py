import uuid

import pytest

from hall.v1 import approval_pb2
from services.adapters.sdk.core import AdapterCore
from services.adapters.sdk.registry import load_department
from services.counter.client import company_registration
from services.runtime import db, wire
from services.runtime.wire import Envelope


@pytest.fixture
def make_core(request, tmp_path):
    """Cores on PostgreSQL; on SQLite (the local run's database) where a module asks for it with
    `pytest.mark.parametrize("make_core", ["postgresql", "sqlite"], indirect=True)`."""
    if getattr(request, "param", "postgresql") == "sqlite":
        url, schema_name = f"sqlite:///{tmp_path / 'registers.db'}", None
    else:
        url, schema_name = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
    engines = []

    def make(code: str) -> AdapterCore:
        department = load_department(code)
        engine = db.make_engine(url, schema_name)
        assert department.migrations is not None
        engines.append(engine)
        db.migrate(engine, department.migrations, f"alembic_version_adapter_{code}")
        return AdapterCore(department, db.session_factory(engine))

    yield make
    for engine in engines:
        engine.dispose()


def request(department: str, step_id: str, *, case_id: str | None = None, fields=None, upstream=None, attempt=1):
    base = company_registration()
    msg = approval_pb2.SubApprovalRequest(
        case_id=case_id or uuid.uuid4().hex[:20], step_id=step_id, department=department, matter_code="m",
        applicant=base.applicant, fields=fields if fields is not None else dict(base.fields),
        upstream=upstream or {}, attempt=attempt)
    return msg


def envelope(msg, message_id=None) -> Envelope:
    return Envelope(message=msg, message_id=message_id or uuid.uuid4().hex, type=wire.type_name(msg), routing_key="")


def decision(result) -> approval_pb2.SubApprovalDecision:
    assert len(result.outgoing) == 1
    return result.outgoing[0].message
