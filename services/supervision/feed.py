"""The hall's live feed: every fact supervision records (an acceptance, a step, a procedure, a
card, an extension, a completion, an evaluation, a complaint) as one numbered entry.

Entries are gathered during a transaction (`Feed.add`) and numbered at its end (`Feed.flush`)
from the one counter row, `supervision_feed_head`, whose row lock is held until the commit. So
transactions that record entries commit in the order of their numbers: a reader that has seen
cursor N has seen every entry below N, and a screen that reconnects with its last cursor misses
nothing and sees nothing twice. The lock is taken once per transaction, at its very end.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import inspection_pb2 as ipb
from services.runtime import clock
from services.supervision.models import FeedHeadRow, FeedRow

K = ipb


@dataclass
class Feed:
    session: Session
    entries: list[FeedRow] = field(default_factory=list)

    def add(self, kind: int, text: str, *, case_id: str = "", step_id: str = "", department: str = "",
            departments: Iterable[str] = (), matter_code: str = "", level: int = 0, ref_id: str = "",
            at: dt.datetime | None = None) -> None:
        depts = {d for d in departments if d} | ({department} if department else set())
        self.entries.append(FeedRow(kind=kind, case_id=case_id, step_id=step_id, department=department,
                                    departments="," + ",".join(sorted(depts)) + "," if depts else "",
                                    matter_code=matter_code, level=level, text=text, at=at or clock.now(),
                                    ref_id=ref_id))

    def flush(self) -> None:
        """Number the gathered entries and insert them (call last in the transaction)."""
        if not self.entries:
            return
        n = len(self.entries)
        last = self.session.execute(update(FeedHeadRow).where(FeedHeadRow.id == 1)
                                    .values(last=FeedHeadRow.last + n).returning(FeedHeadRow.last)).scalar_one()
        for i, row in enumerate(self.entries):
            row.cursor = last - n + 1 + i
        self.session.add_all(self.entries)
        self.session.flush()
        self.entries = []
        WAKE.notify()


@contextlib.contextmanager
def recording(sessions: sessionmaker[Session]) -> Iterator[Feed]:
    """A transaction whose feed entries are numbered and written at its end."""
    with sessions() as session, session.begin():
        feed = Feed(session)
        yield feed
        feed.flush()


class _Wake:
    """Wakes this process's open feeds when an entry was recorded here (replicas: see POLL_S)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        with self._cond:
            if self._generation == seen:
                self._cond.wait(timeout)
            return self._generation

    @property
    def generation(self) -> int:
        return self._generation


WAKE = _Wake()
# Entries recorded by another replica are found by reading again this often.
POLL_S = 1.0


def _filtered(query: Select[Any], department: str, matter_code: str, min_level: int) -> Select[Any]:
    if department:
        query = query.where(or_(FeedRow.department == department,
                                FeedRow.departments.like(f"%,{department},%")))
    if matter_code:
        query = query.where(FeedRow.matter_code == matter_code)
    if min_level:
        query = query.where(FeedRow.level >= min_level)
    return query


def read(session: Session, after: int, *, department: str = "", matter_code: str = "", min_level: int = 0,
         limit: int = 200) -> list[FeedRow]:
    query = _filtered(select(FeedRow).where(FeedRow.cursor > after), department, matter_code, min_level)
    return list(session.scalars(query.order_by(FeedRow.cursor).limit(limit)))


def cursor_before_last(session: Session, last: int, *, department: str = "", matter_code: str = "",
                       min_level: int = 0) -> int:
    """The cursor to read after for the last `last` entries the filters pass."""
    query = _filtered(select(FeedRow.cursor), department, matter_code, min_level)
    cursors = list(session.scalars(query.order_by(FeedRow.cursor.desc()).limit(last)))
    return cursors[-1] - 1 if cursors else 0


def entry(row: FeedRow) -> ipb.FeedEntry:
    out = ipb.FeedEntry(cursor=row.cursor, kind=row.kind, case_id=row.case_id,  # type: ignore[arg-type]
                        step_id=row.step_id, department=row.department, matter_code=row.matter_code,
                        level=row.level, text=row.text, ref_id=row.ref_id)  # type: ignore[arg-type]
    out.at.CopyFrom(clock.to_timestamp(row.at))
    return out
