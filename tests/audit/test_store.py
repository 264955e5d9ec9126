import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hall.v1 import audit_pb2
from services.audit.store import AuditStore
from services.runtime import clock
from tests.conftest import migrated

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "audit" / "migrations"


@pytest.fixture
def store(pg_url, pg_schema):
    engine, sessions = migrated(pg_url, pg_schema, MIGRATIONS, "alembic_version_audit")
    yield AuditStore(sessions), engine
    engine.dispose()


def record(case_id="C1", op="/x", offset_s=0.0):
    rec = audit_pb2.CallRecord(record_id=uuid.uuid4().hex, service="s", kind=audit_pb2.CallRecord.KIND_GRPC,
                               operation=op, case_id=case_id, actor_id="a", outcome="OK")
    rec.started_at.FromNanoseconds(int((clock.now().timestamp() + offset_s) * 1e9))
    return rec


def test_timeline_is_in_time_order_and_duplicates_are_stored_once(store):
    s, _ = store
    late, early = record(op="late", offset_s=1), record(op="early")
    assert s.append([late, early, late]) == 2
    assert s.append([early]) == 0
    assert [e.record.operation for e in s.timeline("C1")] == ["early", "late"]


def test_chain_verifies_and_rows_cannot_be_changed_or_deleted(store):
    s, engine = store
    s.append([record() for _ in range(5)])
    assert s.verify_chain() == (True, 5)
    for statement in ("UPDATE audit_records SET outcome = 'FORGED'", "DELETE FROM audit_records"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
