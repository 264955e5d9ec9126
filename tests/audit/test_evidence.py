"""The trail as evidence: an attacker with a superuser connection rewrites records, recomputes
every hash after them and the head, so the plain hash chain verifies again; the signed
checkpoints still name the first record altered, removed or inserted. Checkpoints forged,
removed or stopped are named too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from hall.v1 import audit_pb2
from services.audit.evidence import CheckpointSigner
from services.audit.store import GENESIS, AuditStore, chain_hash, to_record
from tests.audit.test_store import record
from tests.support.db import migrated

pytestmark = pytest.mark.integration
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "audit" / "migrations"
P = audit_pb2.ChainProblem


def signer() -> CheckpointSigner:
    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()).decode()
    return CheckpointSigner(pem, "")


@pytest.fixture
def trail(pg_url, pg_schema):
    """35 records in 7 batches, the first 30 under three checkpoints, the last 5 not yet."""
    engine, sessions = migrated(pg_url, pg_schema, MIGRATIONS, "alembic_version_audit")
    store = AuditStore(sessions, signer())
    for batch in range(7):
        store.append([record(op=f"/op/{batch}/{i}") for i in range(5)])
        if batch in (1, 3, 5):
            store.checkpoint()
    yield store, engine, pg_schema
    engine.dispose()


def seqs(engine) -> list[int]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT seq FROM audit_records ORDER BY seq"))]


def rechain(engine, schema: str) -> None:
    """What the attacker does after the edit: every hash and link recomputed, a new head."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # the append-only triggers off
        prev = GENESIS
        rows = conn.execute(text(f'SELECT * FROM "{schema}".audit_records ORDER BY seq')).mappings().all()
        for row in rows:
            h = chain_hash(prev, to_record(type("R", (), dict(row))))
            conn.execute(text(f'UPDATE "{schema}".audit_records SET prev_hash = :p, hash = :h WHERE seq = :s'),
                         {"p": prev, "h": h, "s": row["seq"]})
            prev = h
        conn.execute(text(f'INSERT INTO "{schema}".audit_chain_heads (hash, count, at) VALUES (:h, :n, now())'),
                     {"h": prev, "n": len(rows)})


def as_superuser(engine, schema: str, sql: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(sql.replace("{s}", f'"{schema}"')), params)


def test_an_untouched_trail_verifies_with_its_checkpoints(trail):
    store, _, _ = trail
    check = store.check_chain()
    assert check.intact and check.checked == 35 and check.anchored_count == 30 and check.checkpoints_verified == 3


def test_an_altered_record_is_named_though_the_chain_and_head_were_rewritten(trail):
    store, engine, schema = trail
    target = seqs(engine)[11]
    as_superuser(engine, schema, "UPDATE {s}.audit_records SET outcome = 'FORGED' WHERE seq = :q", q=target)
    rechain(engine, schema)
    plain = AuditStore(store._sessions, signer())  # the chain alone, as before checkpoints: fooled
    with plain._sessions() as session:
        assert plain._walk(session, 35, 0, *_head(engine, schema)).intact
    check = store.check_chain()
    assert not check.intact and check.kind == P.CHAIN_PROBLEM_ALTERED and check.first_broken_sequence == target
    assert check.checked == 11 and "altered" in check.problem


def test_a_removed_record_is_named_by_the_one_after_it(trail):
    store, engine, schema = trail
    rows = seqs(engine)
    as_superuser(engine, schema, "DELETE FROM {s}.audit_records WHERE seq = :q", q=rows[11])
    rechain(engine, schema)
    check = store.check_chain()
    assert not check.intact and check.kind == P.CHAIN_PROBLEM_REMOVED and check.first_broken_sequence == rows[12]


def test_an_inserted_record_is_named(trail):
    store, engine, schema = trail
    rows = seqs(engine)
    # Room for a forged record before the 12th: the rows from it on move up one sequence number.
    as_superuser(engine, schema, "UPDATE {s}.audit_records SET seq = seq + 1000 WHERE seq >= :q", q=rows[11])
    as_superuser(engine, schema, "INSERT INTO {s}.audit_records (seq, record_id, case_id, service, kind, operation,"
                 " actor_id, step_id, department, started_at, duration_us, outcome, detail, recorded_at, prev_hash, hash)"
                 " SELECT :q, 'forged', case_id, service, kind, '/forged', actor_id, step_id, department, started_at,"
                 " duration_us, outcome, detail, recorded_at, prev_hash, hash FROM {s}.audit_records WHERE seq = :r",
                 q=rows[11], r=rows[11] + 1000)
    rechain(engine, schema)
    check = store.check_chain()
    assert not check.intact and check.kind == P.CHAIN_PROBLEM_INSERTED and check.first_broken_record_id == "forged"


def test_the_tail_cut_off_is_named(trail):
    store, engine, schema = trail
    as_superuser(engine, schema, "DELETE FROM {s}.audit_records WHERE seq >= :q", q=seqs(engine)[20])
    rechain(engine, schema)
    check = store.check_chain()
    assert not check.intact and check.kind == P.CHAIN_PROBLEM_REMOVED and "from position 21" in check.problem


def test_forged_missing_and_stale_checkpoints_are_named(trail):
    store, engine, schema = trail
    assert store.check_chain(stale_after=dt.timedelta(minutes=3)).intact
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    stale = store.check_chain(now=later, stale_after=dt.timedelta(minutes=3))
    assert not stale.intact and stale.kind == P.CHAIN_PROBLEM_CHECKPOINTS_STALE
    as_superuser(engine, schema, "DELETE FROM {s}.audit_checkpoints WHERE number = 2")
    assert store.check_chain().kind == P.CHAIN_PROBLEM_CHECKPOINT_MISSING
    as_superuser(engine, schema, "UPDATE {s}.audit_checkpoints SET content = replace(content, :a, :b) WHERE number = 3",
                 a='"count":30', b='"count":31')
    assert store.check_chain().kind == P.CHAIN_PROBLEM_CHECKPOINT_INVALID


def test_a_checkpoint_of_another_key_does_not_verify(trail):
    store, _, _ = trail
    stranger = AuditStore(store._sessions, signer())
    assert stranger.check_chain().kind == P.CHAIN_PROBLEM_CHECKPOINT_INVALID


def _head(engine, schema):
    with engine.connect() as conn:
        h, n = conn.execute(text(f'SELECT hash, count FROM "{schema}".audit_chain_heads ORDER BY id DESC LIMIT 1')).one()
    return h, n
