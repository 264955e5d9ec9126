"""The append-only store: each record is chained to the one before by SHA-256 (tamper evidence)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from psycopg.errors import UniqueViolation
from sqlalchemy import Table, bindparam, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import approval_pb2, audit_pb2, common_pb2
from services.audit import evidence
from services.audit.models import ChainHead, Checkpoint, RecordRow
from services.runtime import clock, db

log = structlog.get_logger(__name__)

GENESIS = "0" * 64

# Prebuilt statements of the append path (no ORM objects): take the chain's lock, read the head,
# (on SQLite: which records are stored already,) the rows, the new head. The head is the newest
# row of an insert-only table and the lock an advisory one, so appending needs INSERT and SELECT
# and nothing else (the service's role has no more: docs/operations.md).
_RECORDS: Table = RecordRow.__table__  # type: ignore[assignment]
_HEAD: Table = ChainHead.__table__  # type: ignore[assignment]
_READ_HEAD = select(_HEAD.c.hash, _HEAD.c.count).order_by(_HEAD.c.id.desc()).limit(1)
_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.audit_chain'))")
_NEW_HEAD = insert(_HEAD)
_KNOWN = select(_RECORDS.c.record_id).where(_RECORDS.c.record_id.in_(bindparam("ids", expanding=True)))
_INSERT = insert(_RECORDS)
_COLUMNS = ("record_id", "case_id", "service", "kind", "operation", "actor_id", "step_id", "department",
            "started_at", "duration_us", "outcome", "detail", "recorded_at", "prev_hash", "hash")
_COPY = f"COPY {_RECORDS.name} ({', '.join(_COLUMNS)}) FROM STDIN"


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
    def __init__(self, sessions: sessionmaker[Session], signer: evidence.CheckpointSigner | None = None) -> None:
        self._sessions = sessions
        self._postgres = db.is_postgres(sessions.kw["bind"])
        self._signer = signer or evidence.CheckpointSigner()

    def _lock(self, conn: Any) -> None:
        """Appends and checkpoints one at a time, across replicas (SQLite serialises writers)."""
        if self._postgres:
            conn.execute(_LOCK)

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
            self._lock(conn)
            head = conn.execute(_READ_HEAD).first()
            assert head is not None, "audit_chain_heads empty: run migrations"
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
                conn.execute(_NEW_HEAD, {"hash": prev, "count": count + len(rows), "at": now})
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

    def checkpoint(self) -> int:
        """Sign the head and every record's hash since the last checkpoint (services/audit/
        evidence.py), under the append lock; returns the checkpoint's number. Written even when
        nothing was appended: the heartbeat that shows when newer checkpoints were removed."""
        with self._sessions() as session, session.begin():
            conn = session.connection()
            self._lock(conn)
            last = session.scalars(select(Checkpoint).order_by(Checkpoint.number.desc()).limit(1)).first()
            head = conn.execute(_READ_HEAD).first()
            assert head is not None, "audit_chain_heads empty: run migrations"
            head_hash, head_count = head
            number, from_count = (last.number + 1, last.count) if last else (1, 0)
            last_seq = last.last_seq if last else 0
            rows = conn.execute(select(_RECORDS.c.seq, _RECORDS.c.hash).where(_RECORDS.c.seq > last_seq)
                                .order_by(_RECORDS.c.seq).limit(head_count - from_count)).all()
            hashes = "".join(h[:evidence.HASH_CHARS] for _, h in rows)
            signed_at = clock.now()
            count = from_count + len(rows)
            last_seq, anchor = rows[-1] if rows else (last_seq, last.hash if last else GENESIS)
            content = evidence.content_of(number=number, count=count, head_hash=anchor, from_count=from_count,
                                          hashes=hashes, prev_signature=last.signature if last else "",
                                          signed_at=signed_at)
            session.add(Checkpoint(number=number, count=count, hash=anchor,
                                   from_count=from_count, last_seq=last_seq, hashes=hashes,
                                   signed_at=signed_at, key_id=self._signer.key_id, content=content,
                                   signature=self._signer.sign(content)))
            return number

    def check_chain(self, *, now: datetime | None = None, stale_after: timedelta | None = None) -> ChainCheck:
        """Recompute the chain from its rows and compare it with what the signed checkpoints
        vouch for, record by record: the first record altered, removed or inserted is named
        even when the rows and the head after it were rewritten to match. Records after the last
        checkpoint are checked against their stored hashes and the head. With `stale_after`, a
        newest checkpoint older than that (checkpoints removed, or none written) is a problem too.
        The head is read first: records appended meanwhile come after it and are left for the
        next check."""
        with self._sessions() as session:
            head = session.connection().execute(_READ_HEAD).first()
            assert head is not None, "audit_chain_heads empty: run migrations"
            head_hash, head_count = head
            anchors = self._verified_checkpoints(session)
            if isinstance(anchors, ChainCheck):
                return dataclasses.replace(anchors, head_hash=head_hash, head_count=head_count)
            anchored, verified, last_signed = anchors
            found = self._walk(session, max(head_count, anchored), anchored, head_hash, head_count)
            found = dataclasses.replace(found, anchored_count=anchored, checkpoints_verified=verified)
        if found.intact and stale_after is not None and (head_count or verified):
            moment = now or clock.now()
            if last_signed is None or moment - last_signed > stale_after:
                since = f"since {clock.local(last_signed):%Y-%m-%d %H:%M}" if last_signed else "at all"
                return dataclasses.replace(found, intact=False, kind=audit_pb2.CHAIN_PROBLEM_CHECKPOINTS_STALE,
                                           problem=f"no signed checkpoint {since}: newer checkpoints were removed, "
                                                   "or the audit service has not anchored its chain")
        return found

    def _verified_checkpoints(self, session: Session) -> tuple[int, int, datetime | None] | ChainCheck:
        """(records anchored, checkpoints verified, when the newest was signed), or the first
        checkpoint that is forged, altered or missing."""
        anchored, verified, prev_signature, last_signed = 0, 0, "", None
        for cp in session.scalars(select(Checkpoint).order_by(Checkpoint.number)).yield_per(100):
            signed = evidence.read_signed(cp.content, cp.hashes)
            if signed is None or not self._signer.verifies(cp.key_id, cp.content, cp.signature):
                return ChainCheck(False, 0, 0, f"checkpoint {cp.number}'s signature does not verify (forged or altered)",
                                  "", 0, kind=audit_pb2.CHAIN_PROBLEM_CHECKPOINT_INVALID)
            if signed.number != verified + 1 or signed.from_count != anchored or \
                    signed.prev_signature_digest != evidence.digest(prev_signature):
                return ChainCheck(False, 0, 0, f"checkpoint {verified + 1} is missing (the next one found is "
                                  f"{signed.number})", "", 0, kind=audit_pb2.CHAIN_PROBLEM_CHECKPOINT_MISSING)
            anchored, verified, prev_signature, last_signed = signed.count, signed.number, cp.signature, signed.signed_at
        return anchored, verified, last_signed

    def _expected(self, session: Session) -> Generator[str, None, None]:
        """The signed hash of each anchored record, in chain order (signatures checked already)."""
        result = session.scalars(select(Checkpoint).order_by(Checkpoint.number)).yield_per(100)
        try:
            for cp in result:
                signed = evidence.read_signed(cp.content, cp.hashes)
                assert signed is not None
                yield from signed.hashes
        finally:
            result.close()

    def _walk(self, session: Session, limit: int, anchored: int, head_hash: str, head_count: int) -> ChainCheck:
        expected = self._expected(session)
        result = session.scalars(select(RecordRow).order_by(RecordRow.seq).limit(limit + 1)).yield_per(1000)
        try:
            return self._compare(_Peek(iter(result)), expected, limit, anchored, head_hash, head_count)
        finally:
            # Both stream from server-side cursors: closed here, not whenever they are collected.
            expected.close()
            result.close()

    @staticmethod
    def _compare(rows: _Peek, expected: Iterator[str], limit: int, anchored: int, head_hash: str,
                 head_count: int) -> ChainCheck:
        prev, position, want = GENESIS, 0, next(expected, None)
        cut = evidence.HASH_CHARS

        def broken(kind: int, problem: str, row: RecordRow | None) -> ChainCheck:
            return ChainCheck(False, position, row.seq if row else 0, problem, head_hash, head_count, kind=kind,
                              first_broken_record_id=row.record_id if row else "")

        while position < limit:
            row = rows.next()
            if row is None:
                break
            h = chain_hash(prev, to_record(row))
            if position < anchored:
                assert want is not None
                if h[:cut] != want:
                    after = next(expected, None)
                    following = rows.peek()
                    # The row chained from the signed hash it should follow is the signed next one:
                    # the signed record between them is gone.
                    if after is not None and chain_hash(want, to_record(row))[:cut] == after:
                        return broken(audit_pb2.CHAIN_PROBLEM_REMOVED, f"a signed record was removed before record "
                                      f"{row.seq} (position {position + 1} of the signed chain)", row)
                    if following is not None and chain_hash(prev, to_record(following))[:cut] == want:
                        return broken(audit_pb2.CHAIN_PROBLEM_INSERTED, f"record {row.seq} was inserted: the signed "
                                      f"chain has no such record at position {position + 1}", row)
                    return broken(audit_pb2.CHAIN_PROBLEM_ALTERED, f"record {row.seq} was altered: it is not what "
                                  f"checkpoint signed at position {position + 1}", row)
                want = next(expected, None)
            else:
                if row.prev_hash != prev:
                    return broken(audit_pb2.CHAIN_PROBLEM_UNANCHORED_BREAK,
                                  f"record {row.seq} does not name the record before it", row)
                if row.hash != h:
                    return broken(audit_pb2.CHAIN_PROBLEM_UNANCHORED_BREAK,
                                  f"record {row.seq} does not hash to its stored hash", row)
            prev = h
            position += 1
        if position < anchored:
            return broken(audit_pb2.CHAIN_PROBLEM_REMOVED, f"the signed checkpoints count {anchored} records, the "
                          f"trail holds {position}: the records from position {position + 1} on were removed", None)
        if position < head_count:
            return broken(audit_pb2.CHAIN_PROBLEM_UNANCHORED_BREAK,
                          f"the head counts {head_count} records, the trail holds {position}", None)
        if head_count >= anchored and prev != head_hash and position == head_count:
            return broken(audit_pb2.CHAIN_PROBLEM_UNANCHORED_BREAK, "the last record is not the one the head names", None)
        return ChainCheck(True, position, 0, "", head_hash, head_count)


class _Peek:
    """An iterator one can look one item ahead in."""

    def __init__(self, items: Iterator[Any]) -> None:
        self._items = items
        self._ahead: list[Any] = []

    def next(self) -> Any:
        return self._ahead.pop() if self._ahead else next(self._items, None)

    def peek(self) -> Any:
        if not self._ahead:
            self._ahead.append(next(self._items, None))
        return self._ahead[0]


@dataclass(frozen=True)
class ChainCheck:
    """What `check_chain` found (`VerifyChainResponse`)."""

    intact: bool
    checked: int
    first_broken_sequence: int  # 0: no record is broken (it may still fall short of the head)
    problem: str
    head_hash: str
    head_count: int
    kind: int = 0  # audit_pb2.ChainProblem
    first_broken_record_id: str = ""
    anchored_count: int = 0
    checkpoints_verified: int = 0


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
