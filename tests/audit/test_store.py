import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hall.v1 import audit_pb2
from services.audit.store import AuditStore, as_stored
from services.runtime import clock
from tests.support.db import migrated

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "audit" / "migrations"


@pytest.fixture
def store(pg_url, pg_schema):
    engine, sessions = migrated(pg_url, pg_schema, MIGRATIONS, "alembic_version_audit")
    yield AuditStore(sessions), engine
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def either_store(request, tmp_path):
    """The store on PostgreSQL (rows go in by COPY) and on SQLite (the local run: INSERTs)."""
    if request.param == "sqlite":
        engine, sessions = migrated(f"sqlite:///{tmp_path / 'audit.db'}", None, MIGRATIONS, "alembic_version_audit")
        yield AuditStore(sessions), engine
        engine.dispose()
    else:
        yield request.getfixturevalue("store")


def record(case_id="C1", op="/x", offset_s=0.0):
    rec = audit_pb2.CallRecord(record_id=uuid.uuid4().hex, service="s", kind=audit_pb2.CallRecord.KIND_GRPC,
                               operation=op, case_id=case_id, actor_id="a", outcome="OK")
    rec.started_at.FromNanoseconds(int((clock.now().timestamp() + offset_s) * 1e9))
    return rec


def test_timeline_is_in_time_order_and_duplicates_are_stored_once(either_store):
    s, _ = either_store
    late, early = record(op="late", offset_s=1), record(op="early")
    assert s.append([late, early, late]) == 2
    assert s.append([early]) == 0
    middle = record(op="middle", offset_s=0.5)
    assert s.append([early, middle, late]) == 1  # a redelivered batch with one record more
    assert [e.record.operation for e in s.timeline("C1")] == ["early", "middle", "late"]
    assert s.verify_chain() == (True, 3)


def test_chain_verifies_and_rows_cannot_be_changed_or_deleted(either_store):
    s, engine = either_store
    s.append([record() for _ in range(5)])
    assert s.verify_chain() == (True, 5)
    for statement in ("UPDATE audit_records SET outcome = 'FORGED'", "DELETE FROM audit_records"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))


def test_every_field_comes_back_as_sent_and_the_chain_recomputes(either_store):
    """Text that COPY's format must escape (tabs, newlines, backslashes), Chinese, an empty
    detail, a large duration and times to the microsecond come back from the rows unchanged,
    so the chain recomputes over them."""
    s, _ = either_store
    odd = record(op="/hall.v1.IntakeService/SubmitApplication")
    odd.detail, odd.outcome, odd.department = "名称\t含\\N 制表符\n第二行\r\\", "INVALID_ARGUMENT", "国税"
    odd.duration_us, odd.step_id, odd.actor_id = 2**62, "national_tax", "clerk\t0001"
    plain = record(offset_s=0.5)
    assert s.append([odd, plain]) == 2
    back = {e.record.record_id: e.record for e in s.timeline("C1")}
    assert back[odd.record_id] == as_stored(odd)
    assert back[plain.record_id] == as_stored(plain)
    assert s.verify_chain() == (True, 2)


def test_a_record_changed_behind_the_trigger_is_found_with_its_sequence(store):
    """What an administrator could still do (disable the trigger, edit a row) the chain shows:
    the first record that no longer recomputes, and how many before it do."""
    s, engine = store
    s.append([record() for _ in range(5)])
    intact = s.check_chain()
    assert (intact.intact, intact.checked, intact.first_broken_sequence, intact.head_count) == (True, 5, 0, 5)
    third = sorted(e.sequence for e in s.timeline("C1"))[2]
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_records DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE audit_records SET outcome = 'FORGED' WHERE seq = :seq"), {"seq": third})
        conn.execute(text("ALTER TABLE audit_records ENABLE TRIGGER USER"))
    broken = s.check_chain()
    assert (broken.intact, broken.checked, broken.first_broken_sequence) == (False, 2, third)
    assert "hash" in broken.problem
    assert s.verify_chain() == (False, 2)


def test_records_missing_at_the_end_are_found_against_the_head(store):
    s, engine = store
    s.append([record() for _ in range(4)])
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_records DISABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM audit_records WHERE seq = (SELECT max(seq) FROM audit_records)"))
        conn.execute(text("ALTER TABLE audit_records ENABLE TRIGGER USER"))
    check = s.check_chain()
    assert (check.intact, check.checked, check.first_broken_sequence, check.head_count) == (False, 3, 0, 4)
    assert "counts 4" in check.problem


def test_inspectors_search_by_actor_department_and_time_a_page_at_a_time(either_store):
    from datetime import timedelta

    store, _ = either_store
    base = clock.now()
    records = []
    for i in range(7):
        r = record(case_id=f"C{i}", op="/hall.v1.IntakeService/SubmitApplication", offset_s=i * 60)
        r.actor_id, r.department = ("clerk-1" if i % 2 == 0 else "clerk-2"), ("planning" if i < 3 else "business")
        records.append(r)
    store.append(records)
    mine, _ = store.search(actor_id="clerk-1")
    assert [e.record.case_id for e in mine] == ["C0", "C2", "C4", "C6"]
    first, cursor = store.search(actor_id="clerk-1", limit=3)
    rest, last = store.search(actor_id="clerk-1", after=cursor, limit=3)
    assert [e.record.case_id for e in first + rest] == ["C0", "C2", "C4", "C6"] and cursor and last == 0
    planning, _ = store.search(department="planning", actor_id="clerk-2")
    assert [e.record.case_id for e in planning] == ["C1"]
    window, _ = store.search(start=base + timedelta(seconds=120), end=base + timedelta(seconds=300))
    assert [e.record.case_id for e in window] == ["C2", "C3", "C4"]
