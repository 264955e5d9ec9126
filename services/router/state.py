"""Case and step rows on the router's hot path, read and written with prebuilt SQLAlchemy Core
statements instead of ORM objects.

A batch of messages loads its cases (locked, in id order) and their steps in two statements and
writes back what changed in at most four (new cases, new steps, changed cases, changed steps),
whatever the batch's size. Built once, the statements skip SQLAlchemy's per-call construction and
cache-key work, and a load-update-commit transaction skips the ORM's unit of work (`make
bench-stores`).

On PostgreSQL a transaction takes three round trips (psycopg's pipeline mode): BEGIN (psycopg
waits for it on its own), then the claim of the batch's message ids and both reads together
(`claim_and_load`), then the writes, the outbox rows and COMMIT together
(`services.runtime.db.pipelined`). Sent one by one they were seven or more, each a wake-up of
the router and of its database backend.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from services.router.models import CaseRow, ProcessedMessage, StepRow
from services.runtime import db
from services.runtime.db import UTCDateTime

CASES: Table = CaseRow.__table__  # type: ignore[assignment]
STEPS: Table = StepRow.__table__  # type: ignore[assignment]
CASE_CHANGES = ("status", "event_seq", "results", "reasons", "updated_at", "ended_at", "paid_receipt")
STEP_CHANGES = ("status", "attempt", "request_message_id", "results", "reasons", "last_error", "dispatched_at",
                "decided_at", "due_at", "started_at", "retried_after", "officer_id")


class Record:
    """One row as attributes. Setting any attribute marks it changed; `new` rows are inserted."""

    def __init__(self, values: dict[str, Any], *, new: bool = False) -> None:
        self.__dict__.update(values)
        self.__dict__["_new"] = new
        self.__dict__["_changed"] = False

    def __setattr__(self, name: str, value: Any) -> None:
        self.__dict__[name] = value
        self.__dict__["_changed"] = True

    def __getattr__(self, name: str) -> Any:  # only for names not set: typed access for mypy
        raise AttributeError(name)

    def values(self, columns: Any) -> dict[str, Any]:
        return {c.name: self.__dict__[c.name] for c in columns}


Loaded = dict[str, tuple[Record, list[Record]]]

_SELECT_CASES = select(CASES).where(CASES.c.case_id.in_(bindparam("ids", expanding=True))).order_by(CASES.c.case_id)
_LOCK_CASES = _SELECT_CASES.with_for_update()
_SELECT_STEPS = (select(STEPS).where(STEPS.c.case_id.in_(bindparam("ids", expanding=True)))
                 .order_by(STEPS.c.case_id, STEPS.c.position))
_INSERT_CASE = insert(CASES)
_INSERT_STEPS = insert(STEPS)
_UPDATE_CASE = (update(CASES).where(CASES.c.case_id == bindparam("k_case_id"))
                .values({c: bindparam(f"v_{c}", type_=CASES.c[c].type) for c in CASE_CHANGES}))
_UPDATE_STEP = (update(STEPS).where(STEPS.c.case_id == bindparam("k_case_id"), STEPS.c.step_id == bindparam("k_step_id"))
                .values({c: bindparam(f"v_{c}", type_=STEPS.c[c].type) for c in STEP_CHANGES}))


def load(session: Session, case_ids: list[str], *, lock: bool) -> Loaded:
    """The cases (row-locked when `lock`, in id order: concurrent batches never deadlock) and
    their steps in plan order.

    Two statements on purpose: under READ COMMITTED each statement reads a fresh snapshot, so the
    steps, read after the case lock is granted, include what the replica that held the lock
    committed. One joined `SELECT … FOR UPDATE OF cases` would re-check the case row after the
    wait but return the steps as they were before it: a lost update (tried; the two-replica test
    in tests/router/test_engine.py fails with it)."""
    if not case_ids:
        return {}
    ids = sorted(set(case_ids))
    conn = session.connection()  # Core statements on the session's connection: no ORM execution layer
    cases = {r.case_id: Record(r._asdict()) for r in conn.execute(_LOCK_CASES if lock else _SELECT_CASES, {"ids": ids})}
    steps: dict[str, list[Record]] = {cid: [] for cid in cases}
    if cases:
        for r in conn.execute(_SELECT_STEPS, {"ids": list(cases)}):
            steps[r.case_id].append(Record(r._asdict()))
    return {cid: (case, steps[cid]) for cid, case in cases.items()}


def save(session: Session, loaded: Loaded) -> None:
    """Write new and changed rows of `loaded`."""
    new_cases, new_steps, cases, steps = [], [], [], []
    for case, case_steps in loaded.values():
        if case._new:
            new_cases.append(case.values(CASES.c))
        elif case._changed:
            cases.append({"k_case_id": case.case_id, **{f"v_{c}": getattr(case, c) for c in CASE_CHANGES}})
        for step in case_steps:
            if step._new:
                new_steps.append(step.values(STEPS.c))
            elif step._changed:
                steps.append({"k_case_id": step.case_id, "k_step_id": step.step_id,
                              **{f"v_{c}": getattr(step, c) for c in STEP_CHANGES}})
    conn = session.connection()
    if new_cases:
        conn.execute(_INSERT_CASE, new_cases)
    if new_steps:
        conn.execute(_INSERT_STEPS, new_steps)
    if cases:
        conn.execute(_UPDATE_CASE, cases)
    if steps:
        conn.execute(_UPDATE_STEP, steps)


# ---- PostgreSQL: pipeline mode -------------------------------------------------------------------
# SQLAlchemy cannot read results in psycopg's pipeline mode (a result is not there when it looks
# for its columns), so the reads are plain SQL on the session's psycopg connection, built from the
# same table definitions. The writes stay SQLAlchemy statements (they return nothing).
PROCESSED: Table = ProcessedMessage.__table__  # type: ignore[assignment]


def _columns(table: Table) -> str:
    return ", ".join(f'"{c.name}"' for c in table.c)


# The ids are inserted in sorted order, so concurrent batches never deadlock on them.
_PG_CLAIM = (f"INSERT INTO {PROCESSED.name} (message_id, processed_at) "
             "SELECT m, %(now)s FROM unnest(%(ids)s::text[]) AS m ORDER BY m "
             "ON CONFLICT (message_id) DO NOTHING RETURNING message_id")
_PG_CASES = f"SELECT {_columns(CASES)} FROM {CASES.name} WHERE case_id = ANY(%(cases)s) ORDER BY case_id"
_PG_LOCK_CASES = _PG_CASES + " FOR UPDATE"
_PG_STEPS = (f"SELECT {_columns(STEPS)} FROM {STEPS.name} WHERE case_id = ANY(%(cases)s) "
             "ORDER BY case_id, position")
_TIMES = {t.name: [c.name for c in t.c if isinstance(c.type, UTCDateTime)] for t in (CASES, STEPS)}


def _record(row: dict[str, Any], times: list[str]) -> Record:
    for name in times:  # as SQLAlchemy's UTCDateTime returns them: aware, in UTC
        if row[name] is not None:
            row[name] = row[name].astimezone(UTC)
    return Record(row)


def claim_and_load(session: Session, message_ids: list[str], case_ids: list[str], now: datetime, *,
                   lock: bool) -> tuple[set[str], Loaded]:
    """PostgreSQL: record the batch's message ids (returning those not seen before), then load
    its cases (locked when `lock`) and their steps, in one round trip after BEGIN. The server runs the
    statements in order, each on a fresh snapshot, so the steps are read after the case locks
    are granted (see `load`)."""
    from psycopg.rows import dict_row

    ids = sorted(set(case_ids))
    with db.pipelined(session) as raw:  # (a connection that fails in it is not reused)
        claim, cases, steps = raw.cursor(), raw.cursor(row_factory=dict_row), raw.cursor(row_factory=dict_row)
        claim.execute(_PG_CLAIM, {"ids": sorted(set(message_ids)), "now": now})
        cases.execute(_PG_LOCK_CASES if lock else _PG_CASES, {"cases": ids})
        steps.execute(_PG_STEPS, {"cases": ids})
    with claim, cases, steps:
        fresh = {r[0] for r in claim.fetchall()}
        loaded_cases = {r["case_id"]: _record(r, _TIMES[CASES.name]) for r in cases.fetchall()}
        loaded_steps: dict[str, list[Record]] = {cid: [] for cid in loaded_cases}
        for r in steps.fetchall():
            if r["case_id"] in loaded_steps:
                loaded_steps[r["case_id"]].append(_record(r, _TIMES[STEPS.name]))
    return fresh, {cid: (case, loaded_steps[cid]) for cid, case in loaded_cases.items()}
