"""The append-only store: each record is chained to the one before by SHA-256 (tamper evidence)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from psycopg.errors import UniqueViolation
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import approval_pb2, audit_pb2, common_pb2
from services.audit.models import ChainHead, RecordRow
from services.runtime import clock, db

log = structlog.get_logger(__name__)

GENESIS = "0" * 64

# Prebuilt statements of the append path (no ORM objects): lock the head, (on SQLite: which records
# are stored already,) the rows, move the head.
_RECORDS: Table = RecordRow.__table__  # type: ignore[assignment]
_HEAD: Table = ChainHead.__table__  # type: ignore[assignment]
_READ_HEAD = select(_HEAD.c.hash, _HEAD.c.count).where(_HEAD.c.id == 1)
_LOCK_HEAD = _READ_HEAD.with_for_update()
_KNOWN = select(_RECORDS.c.record_id).where(_RECORDS.c.record_id.in_(bindparam("ids", expanding=True)))
_INSERT = insert(_RECORDS)
_COLUMNS = ("record_id", "case_id", "service", "kind", "operation", "actor_id", "step_id", "department",
            "started_at", "duration_us", "outcome", "detail", "recorded_at", "prev_hash", "hash")
_COPY = f"COPY {_RECORDS.name} ({', '.join(_COLUMNS)}) FROM STDIN"
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("v_hash", type_=_HEAD.c.hash.type),
                                                          count=bindparam("v_count", type_=_HEAD.c.count.type))


def chain_hash(prev_hash: str, record: audit_pb2.CallRecord) -> str:
    return hashlib.sha256(prev_hash.encode() + record.SerializeToString(deterministic=True)).hexdigest()


def step_outcome(status: int) -> str:
    """A step's status as a timeline entry's outcome: approved, incident… ("" for none)."""
    return common_pb2.StepStatus.Name(status).removeprefix("STEP_STATUS_").lower() if status else ""  # type: ignore[arg-type]


def event_record(event: approval_pb2.CaseStatusChanged, message_id: str) -> audit_pb2.CallRecord:
    """A case status change as the router announced it, as a timeline entry."""
    rec = audit_pb2.CallRecord(
        record_id=message_id, service="router", kind=audit_pb2.CallRecord.KIND_EVENT,
        operation=f"case.status.{approval_pb2.CaseStatus.Name(event.status).removeprefix('CASE_STATUS_').lower()}",
        case_id=event.case_id, actor_id=event.clerk_id, step_id=event.step_id, outcome=step_outcome(event.step_status),
        detail="；".join(r.message for r in event.reasons)[:500])
    rec.started_at.CopyFrom(event.at)
    return rec


class AuditStore:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._postgres = db.is_postgres(sessions.kw["bind"])

    def append(self, records: Sequence[audit_pb2.CallRecord]) -> int:
        """Append records not stored yet (by record id); returns how many were new.

        On PostgreSQL the batch goes in by one COPY without first asking which records are
        stored already: a record comes twice only when its batch was redelivered or a spool was
        adopted, and then the unique record id refuses the COPY and the batch is appended again,
        leaving out what is stored. (Asking first cost a lookup per batch that PostgreSQL may plan
        as a scan of the whole trail, slower as the trail grows.)"""
        if self._postgres:
            try:
                return self._append(records, known=False)
            except UniqueViolation:
                log.info("some records of the batch are stored already; appending the others", size=len(records))
        return self._append(records, known=True)

    def _append(self, records: Sequence[audit_pb2.CallRecord], *, known: bool) -> int:
        with self._sessions() as session, session.begin():
            conn = session.connection()  # Core statements: no ORM execution layer on the hot path
            head = conn.execute(_LOCK_HEAD if self._postgres else _READ_HEAD).first()
            assert head is not None, "audit_chain_head missing: run migrations"
            prev, count = head  # (hash, count): Row.count would be the tuple method
            seen = set(conn.execute(_KNOWN, {"ids": [r.record_id for r in records]}).scalars()) if known else set()
            rows: list[dict[str, object]] = []
            now = clock.now()
            for rec in records:
                if rec.record_id in seen:
                    continue
                seen.add(rec.record_id)
                row: dict[str, object] = {
                    "record_id": rec.record_id, "case_id": rec.case_id, "service": rec.service, "kind": rec.kind,
                    "operation": rec.operation, "actor_id": rec.actor_id, "step_id": rec.step_id,
                    "department": rec.department, "started_at": clock.from_timestamp(rec.started_at),
                    "duration_us": rec.duration_us, "outcome": rec.outcome, "detail": rec.detail,
                    "recorded_at": now, "prev_hash": prev,
                }
                # Hash what is stored (microsecond times), so the chain can be recomputed from the rows.
                prev = row["hash"] = chain_hash(prev, as_stored(rec))
                rows.append(row)
            if rows:
                self._insert(conn, rows)
                conn.execute(_MOVE_HEAD, {"v_hash": prev, "v_count": count + len(rows)})
            return len(rows)

    def _insert(self, conn: Any, rows: list[dict[str, object]]) -> None:
        """On PostgreSQL one COPY for the batch: less CPU per row than pipelined INSERTs, here
        and in the server (`make bench-stores`). SQLite (the local run) takes INSERTs."""
        if not self._postgres:
            conn.execute(_INSERT, rows)
            return
        raw: Any = conn.connection.driver_connection  # psycopg's connection, in the session's transaction
        with raw.cursor() as cursor, cursor.copy(_COPY) as copy:
            for row in rows:
                copy.write_row([row[c] for c in _COLUMNS])

    def timeline(self, case_id: str) -> list[audit_pb2.TimelineEntry]:
        with self._sessions() as session:
            rows = session.scalars(select(RecordRow).where(RecordRow.case_id == case_id)
                                   .order_by(RecordRow.started_at, RecordRow.seq))
            return [audit_pb2.TimelineEntry(sequence=r.seq, record=to_record(r),
                                            recorded_at=clock.to_timestamp(r.recorded_at), hash=r.hash) for r in rows]

    def search(self, *, actor_id: str = "", department: str = "", start: datetime | None = None,
               end: datetime | None = None, after: int = 0, limit: int = 100) -> tuple[list[audit_pb2.TimelineEntry], int]:
        """Records matching every filter given, by sequence, after the cursor `after`; and the
        cursor of the next page (0: none)."""
        query = select(RecordRow).where(RecordRow.seq > after)
        if actor_id:
            query = query.where(RecordRow.actor_id == actor_id)
        if department:
            query = query.where(RecordRow.department == department)
        if start is not None:
            query = query.where(RecordRow.started_at >= start)
        if end is not None:
            query = query.where(RecordRow.started_at < end)
        with self._sessions() as session:
            rows = list(session.scalars(query.order_by(RecordRow.seq).limit(limit + 1)))
        page = rows[:limit]
        entries = [audit_pb2.TimelineEntry(sequence=r.seq, record=to_record(r), recorded_at=clock.to_timestamp(r.recorded_at),
                                           hash=r.hash) for r in page]
        return entries, (page[-1].seq if len(rows) > limit else 0)

    def verify_chain(self) -> tuple[bool, int]:
        """Recompute the whole chain; returns (intact, records checked)."""
        check = self.check_chain()
        return check.intact, check.checked

    def check_chain(self) -> ChainCheck:
        """Recompute the chain from the first record to the one the chain's head names, and
        compare its end with the head. The head is read first: records appended meanwhile come
        after it (appends hold the head's lock, so the sequence is the chain's order) and are left
        for the next check."""
        with self._sessions() as session:
            head = session.connection().execute(_READ_HEAD).first()
            assert head is not None, "audit_chain_head missing: run migrations"
            head_hash, head_count = head
            prev, checked = GENESIS, 0
            rows = session.scalars(select(RecordRow).order_by(RecordRow.seq).limit(head_count)).yield_per(1000)
            for row in rows:
                if row.prev_hash != prev:
                    return ChainCheck(False, checked, row.seq, f"record {row.seq} does not name the record before it",
                                      head_hash, head_count)
                if chain_hash(prev, to_record(row)) != row.hash:
                    return ChainCheck(False, checked, row.seq, f"record {row.seq} does not hash to its stored hash",
                                      head_hash, head_count)
                prev = row.hash
                checked += 1
        if checked < head_count:
            return ChainCheck(False, checked, 0, f"the head counts {head_count} records, the trail holds {checked}",
                              head_hash, head_count)
        if prev != head_hash:
            return ChainCheck(False, checked, 0, "the last record is not the one the head names", head_hash,
                              head_count)
        return ChainCheck(True, checked, 0, "", head_hash, head_count)


@dataclass(frozen=True)
class ChainCheck:
    """What `check_chain` found (`VerifyChainResponse`)."""

    intact: bool
    checked: int
    first_broken_sequence: int  # 0: no record is broken (it may still fall short of the head)
    problem: str
    head_hash: str
    head_count: int


def as_stored(rec: audit_pb2.CallRecord) -> audit_pb2.CallRecord:
    """`rec` as `to_record` gives it back from its row: the start time to the microsecond (what
    the database keeps), and present even when it was not set."""
    stored = audit_pb2.CallRecord()
    stored.CopyFrom(rec)
    stored.started_at.SetInParent()
    stored.started_at.nanos -= stored.started_at.nanos % 1000
    return stored


def to_record(r: RecordRow | Any) -> audit_pb2.CallRecord:
    rec = audit_pb2.CallRecord(
        record_id=r.record_id, service=r.service, kind=r.kind,  # type: ignore[arg-type]
        operation=r.operation, case_id=r.case_id, actor_id=r.actor_id, started_at=clock.to_timestamp(r.started_at),
        duration_us=r.duration_us, outcome=r.outcome, detail=r.detail, step_id=r.step_id, department=r.department)
    return rec
