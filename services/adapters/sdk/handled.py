"""The SDK's own tables in every adapter's register.

- `<code>_handled`: each request answered (kind decided), waiting for an officer (pending),
  cancelled, or answered with the decision an earlier attempt of the same step got (replayed) —
  keyed by the request's message id. It de-duplicates deliveries and keeps the answer, so a
  redelivered request is answered again with the same decision instead of being decided twice,
  and a step is decided once whatever the number of attempts that reach the department.
- `<code>_procedures`: special procedures (expert review, hearing…) started and ended on a request.
- `<code>_outbox`: what the desk process publishes (officer decisions, procedure events).
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Session

from services.runtime.db import UTCDateTime
from services.runtime.outbox import OutboxMixin, create_outbox_table


def handled_table(code: str, metadata: MetaData | None = None) -> Table:
    return Table(
        f"{code}_handled", metadata or MetaData(),
        Column("message_id", String(128), primary_key=True),
        Column("case_id", String(40), nullable=False, index=True),
        Column("step_id", String(64), nullable=False),
        Column("kind", String(16), nullable=False),  # decided | pending | cancelled
        Column("decision", LargeBinary, nullable=True),  # hall.v1.SubApprovalDecision
        Column("request", LargeBinary, nullable=True),  # hall.v1.SubApprovalRequest (kept while pending)
        Column("waiting_for", String(200), nullable=False, server_default=""),
        Column("at", UTCDateTime, nullable=False),
    )


def procedures_table(code: str, metadata: MetaData | None = None) -> Table:
    return Table(
        f"{code}_procedures", metadata or MetaData(),
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("message_id", String(128), nullable=False, index=True),
        Column("case_id", String(40), nullable=False),
        Column("step_id", String(64), nullable=False),
        Column("kind", String(64), nullable=False),
        Column("reason", Text, nullable=False),
        Column("result", Text, nullable=False, server_default=""),
        Column("started_by", String(64), nullable=False),
        Column("ended_by", String(64), nullable=False, server_default=""),
        Column("started_at", UTCDateTime, nullable=False),
        Column("ended_at", UTCDateTime, nullable=True),
    )


@cache
def outbox_model(code: str) -> type[OutboxMixin]:
    class _Base(DeclarativeBase):
        pass

    return type(f"{code.title().replace('_', '')}Outbox", (OutboxMixin, _Base), {"__tablename__": f"{code}_outbox"})


def create_sdk_tables(code: str) -> None:
    """Alembic step for an adapter's first revision: the SDK's tables."""
    from alembic import op

    for table in (handled_table(code), procedures_table(code)):
        op.create_table(table.name, *[c.copy() for c in table.columns])
    op.create_index(f"ix_{code}_handled_case", f"{code}_handled", ["case_id", "step_id"])
    create_outbox_table(f"{code}_outbox")


class HandledRow(NamedTuple):
    """A row of `<code>_handled` written in this transaction (read back like a fetched row)."""

    message_id: str
    case_id: str
    step_id: str
    kind: str
    decision: bytes | None
    request: bytes | None
    waiting_for: str
    at: datetime


class Found(NamedTuple):
    own: Any  # the request's own row, or None
    cancelled: bool
    earlier: bytes | None  # hall.v1.SubApprovalDecision given to an earlier request for the step

    @classmethod
    def among(cls, rows: list[Any], message_id: str, case_id: str, step_id: str) -> Found:
        """What the rows of a case say about one request: its own row (if handled before),
        whether its step was cancelled, and the decision another request of the step got."""
        step = [r for r in rows if r.case_id == case_id and r.step_id == step_id]
        return cls(
            own=next((r for r in step if r.message_id == message_id), None),
            cancelled=any(r.kind == "cancelled" for r in step),
            earlier=next((r.decision for r in step if r.message_id != message_id and r.kind == "decided"
                          and r.decision is not None), None))


class Handled:
    """Reads and writes of `<code>_handled`, on statements built once (the hot path of every request)."""

    def __init__(self, code: str) -> None:
        t = self.table = handled_table(code)
        self.code = code
        self._row = t.select().where(t.c.message_id == bindparam("message_id"))
        self._of_cases = t.select().where(t.c.case_id.in_(bindparam("case_ids", expanding=True)))
        # Keys in the order given (sorted by the caller): unnest keeps the array's order, and the
        # locks are taken in it, so two batches sharing steps never deadlock.
        self._lock_steps = text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(CAST(:keys AS text[])) AS k")
        self._waiting = t.select().where(t.c.case_id == bindparam("case_id"), t.c.step_id == bindparam("step_id"),
                                         t.c.kind.in_(("cancelled", "pending")))
        self._insert = t.insert()
        self._set_kind = (t.update().where(t.c.message_id == bindparam("k_message_id"))
                          .values(kind=bindparam("v_kind"), decision=bindparam("v_decision", type_=t.c.decision.type)))

    def lock_step(self, session: Session, case_id: str, step_id: str) -> None:
        """Serialise what happens to one step until the transaction ends: a request being decided
        and a cancel of the same step never run side by side (else the cancel could miss the
        certificate the request is issuing, or the request miss the cancel). PostgreSQL's
        advisory lock; SQLite, the development mode, has one writer at a time."""
        self.lock_steps(session, [(case_id, step_id)])

    def row(self, session: Session, message_id: str) -> object | None:
        return session.connection().execute(self._row, {"message_id": message_id}).first()

    def lock_steps(self, session: Session, steps: list[tuple[str, str]]) -> None:
        """`lock_step` for several steps in one statement, in key order (no deadlock between two
        transactions that share steps)."""
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            keys = sorted({f"{self.code}|{case_id}|{step_id}" for case_id, step_id in steps})
            conn.execute(self._lock_steps, {"keys": keys}).all()

    def rows_of_cases(self, session: Session, case_ids: set[str]) -> list[Any]:
        """Every row of these cases (a handful each): with `Found.among`, what each request needs."""
        return list(session.connection().execute(self._of_cases, {"case_ids": sorted(case_ids)}))

    def answer_for(self, session: Session, message_id: str) -> bytes | None:
        row = self.row(session, message_id)
        return row.decision if row is not None else None  # type: ignore[attr-defined]

    def cancelled_or_pending(self, session: Session, case_id: str, step_id: str) -> list[object]:
        return list(session.connection().execute(self._waiting, {"case_id": case_id, "step_id": step_id}))

    def is_cancelled(self, session: Session, case_id: str, step_id: str) -> bool:
        return any(r.kind == "cancelled" for r in self.cancelled_or_pending(session, case_id, step_id))  # type: ignore[attr-defined]

    def record(self, session: Session, *, message_id: str, case_id: str, step_id: str, kind: str,
               decision: bytes | None, at: datetime, request: bytes | None = None, waiting_for: str = "") -> None:
        session.connection().execute(self._insert, {
            "message_id": message_id, "case_id": case_id, "step_id": step_id, "kind": kind, "decision": decision,
            "request": request, "waiting_for": waiting_for, "at": at})

    def record_all(self, session: Session, rows: list[dict[str, Any]]) -> None:
        if rows:
            session.connection().execute(self._insert, rows)

    def set_kind(self, session: Session, message_id: str, kind: str, decision: bytes | None = None) -> None:
        session.connection().execute(self._set_kind, {"k_message_id": message_id, "v_kind": kind, "v_decision": decision})


def drop_sdk_tables(code: str) -> None:
    from alembic import op

    for name in (f"{code}_outbox", f"{code}_procedures", f"{code}_handled"):
        op.drop_table(name)
