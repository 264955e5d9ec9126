"""The append-only store: each record is chained to the one before by SHA-256 (tamper evidence)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import approval_pb2, audit_pb2
from services.audit.models import ChainHead, RecordRow
from services.runtime import clock

GENESIS = "0" * 64


def chain_hash(prev_hash: str, record: audit_pb2.CallRecord) -> str:
    return hashlib.sha256(prev_hash.encode() + record.SerializeToString(deterministic=True)).hexdigest()


def event_record(event: approval_pb2.CaseStatusChanged, message_id: str) -> audit_pb2.CallRecord:
    """A case status change as the router announced it, as a timeline entry."""
    rec = audit_pb2.CallRecord(
        record_id=message_id, service="router", kind=audit_pb2.CallRecord.KIND_EVENT,
        operation=f"case.status.{approval_pb2.CaseStatus.Name(event.status).removeprefix('CASE_STATUS_').lower()}",
        case_id=event.case_id, actor_id=event.clerk_id, step_id=event.step_id, outcome=event.step_status or "",
        detail="；".join(r.message for r in event.reasons)[:500])
    rec.started_at.CopyFrom(event.at)
    return rec


class AuditStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._lock = sessions.kw["bind"].dialect.name == "postgresql"

    def append(self, records: Sequence[audit_pb2.CallRecord]) -> int:
        """Append records not stored yet (by record id); returns how many were new."""
        with self._sessions() as session, session.begin():
            head = session.get(ChainHead, 1, with_for_update=self._lock)
            assert head is not None, "audit_chain_head missing: run migrations"
            ids = [r.record_id for r in records]
            known = set(session.scalars(select(RecordRow.record_id).where(RecordRow.record_id.in_(ids))))
            rows: list[dict[str, object]] = []
            now = clock.now()
            for rec in records:
                if rec.record_id in known:
                    continue
                known.add(rec.record_id)
                row: dict[str, object] = {
                    "record_id": rec.record_id, "case_id": rec.case_id, "service": rec.service, "kind": rec.kind,
                    "operation": rec.operation, "actor_id": rec.actor_id, "step_id": rec.step_id,
                    "department": rec.department, "started_at": clock.from_timestamp(rec.started_at),
                    "duration_us": rec.duration_us, "outcome": rec.outcome, "detail": rec.detail,
                    "recorded_at": now, "prev_hash": head.hash,
                }
                # Hash what is stored (microsecond times), so the chain can be recomputed from the rows.
                digest = chain_hash(head.hash, to_record(RecordRow(**row)))
                row["hash"] = digest
                rows.append(row)
                head.hash, head.count = digest, head.count + 1
            if rows:
                session.execute(insert(RecordRow), rows)  # one multi-row INSERT, no ORM bookkeeping
            return len(rows)

    def timeline(self, case_id: str) -> list[audit_pb2.TimelineEntry]:
        with self._sessions() as session:
            rows = session.scalars(select(RecordRow).where(RecordRow.case_id == case_id)
                                   .order_by(RecordRow.started_at, RecordRow.seq))
            return [audit_pb2.TimelineEntry(sequence=r.seq, record=to_record(r),
                                            recorded_at=clock.to_timestamp(r.recorded_at), hash=r.hash) for r in rows]

    def verify_chain(self) -> tuple[bool, int]:
        """Recompute the whole chain; returns (intact, records checked)."""
        with self._sessions() as session:
            prev = GENESIS
            n = 0
            for row in session.scalars(select(RecordRow).order_by(RecordRow.seq)).yield_per(1000):
                if row.prev_hash != prev or chain_hash(prev, to_record(row)) != row.hash:
                    return False, n
                prev = row.hash
                n += 1
            return True, n


def to_record(r: RecordRow) -> audit_pb2.CallRecord:
    rec = audit_pb2.CallRecord(
        record_id=r.record_id, service=r.service, kind=r.kind,  # type: ignore[arg-type]
        operation=r.operation, case_id=r.case_id, actor_id=r.actor_id, started_at=clock.to_timestamp(r.started_at),
        duration_us=r.duration_us, outcome=r.outcome, detail=r.detail, step_id=r.step_id, department=r.department)
    return rec
