"""A deadline as a budget with a ledger, not a fixed date.

A clock (a case's, or one step's) has a start (acceptance; a step's first dispatch), a budget
(promised and statutory limits, each in its unit, plus the statutory extension granted), the
special procedures that ran on it, and an end once the case or step is over. Its due moments
are counted again from these facts whenever they are read, on the official calendar
(services/domain/timelimits.py): a pause keeps the budget, a retry changes nothing, an
extension moves the statutory limit, and a late correction of the calendar is taken up.

A procedure's days: the days on which it ran, from the day it started to the day it ended (both
inclusive, in Shanghai), do not count, as `hall deadline --pause FROM..TO` counts them. The
department never loses a day it spent in a procedure, and the count stays in whole days as the
law's limits are.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from dataclasses import dataclass

from services.domain import timelimits
from services.domain.timelimits import Due, Unit
from services.runtime import clock


@dataclass(frozen=True)
class Limit:
    amount: int
    unit: Unit = Unit.WORKING_DAY


@dataclass(frozen=True)
class Procedure:
    """A special procedure on the clock. `counts`: its time counts toward the limit (the
    catalogue's `counts_toward_limit`); only those that do not count pause the clock."""

    kind: str
    reason: str
    started: dt.datetime
    ended: dt.datetime | None = None
    counts: bool = False


@dataclass(frozen=True)
class Clock:
    started: dt.datetime
    promised: Limit
    statutory: Limit
    extension: int = 0  # granted, in the statutory limit's unit
    procedures: tuple[Procedure, ...] = ()
    ended: dt.datetime | None = None


@dataclass(frozen=True)
class Interval:
    paused: bool
    start: dt.datetime
    end: dt.datetime | None  # None: running now
    units: int
    procedure: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Ledger:
    clock: Clock
    at: dt.datetime  # the moment it was read: now, or the clock's end
    promised: Due
    statutory: Due
    intervals: tuple[Interval, ...]
    used: int  # of the promised budget, in its unit (a running clock: up to yesterday)
    paused_now: bool

    @property
    def stopped(self) -> bool:
        return self.clock.ended is not None

    @property
    def remaining(self) -> int:
        return max(self.clock.promised.amount - self.used, 0)

    @property
    def promised_passed(self) -> bool:
        return self.at > self.promised.at

    @property
    def statutory_passed(self) -> bool:
        return self.at > self.statutory.at

    @property
    def provisional(self) -> bool:
        return self.promised.provisional or self.statutory.provisional


def _pauses(c: Clock, until: dt.datetime) -> list[timelimits.Pause]:
    """The clock's non-counting procedures as day ranges, cut at `until` (a running one: up to
    `until`'s day)."""
    out = []
    for p in c.procedures:
        if p.counts or p.started > until:
            continue
        end = min(p.ended, until) if p.ended is not None else until
        out.append(timelimits.Pause(clock.local(p.started).date(), clock.local(end).date(), p.kind))
    return out


def read(c: Clock, now: dt.datetime) -> Ledger:
    """The clock as of `now` (a stopped clock: as of its end)."""
    at = min(now, c.ended) if c.ended is not None else now
    pauses = _pauses(c, at)
    promised = counted_due(c.started, c.promised.amount, c.promised.unit, pauses)
    statutory = counted_due(c.started, c.statutory.amount + c.extension, c.statutory.unit, pauses)
    spent_to = _spent_to(c, at)
    used = _elapsed(c.started, spent_to, c.promised.unit, pauses)
    paused_now = c.ended is None and any(
        not p.counts and p.started <= at and (p.ended is None or p.ended > at) for p in c.procedures)
    return Ledger(c, at, promised, statutory, _intervals(c, at, pauses, spent_to), used, paused_now)


# A limit in days depends on the dates only, not on the hour, and the official calendar is read
# once per process: the clocks of the cases accepted on one day share their counts, so the
# sweep over every open case and the reading after every event count each distinct date once.
@functools.lru_cache(maxsize=8192)
def _due_from_day(first: dt.date, amount: int, unit: Unit, pauses: tuple[timelimits.Pause, ...]) -> Due:
    noon = dt.datetime.combine(first, dt.time(12), tzinfo=clock.SHANGHAI)
    return timelimits.due(noon, amount, unit, pauses=pauses, provisional=True)


@functools.lru_cache(maxsize=8192)
def _elapsed_days(first: dt.date, last: dt.date, unit: Unit, pauses: tuple[timelimits.Pause, ...]) -> int:
    start = dt.datetime.combine(first, dt.time(12), tzinfo=clock.SHANGHAI)
    until = dt.datetime.combine(last, dt.time(12), tzinfo=clock.SHANGHAI)
    return timelimits.elapsed(start, until, unit, pauses=pauses, provisional=True)


def counted_due(started: dt.datetime, amount: int, unit: Unit, pauses: list[timelimits.Pause]) -> Due:
    if unit is Unit.HOUR:
        return timelimits.due(started, amount, unit, pauses=pauses, provisional=True)
    return dataclasses.replace(_due_from_day(clock.local(started).date(), amount, unit, tuple(pauses)),
                               accepted=started)


def _elapsed(start: dt.datetime, until: dt.datetime, unit: Unit, pauses: list[timelimits.Pause]) -> int:
    if unit is Unit.HOUR:
        return timelimits.elapsed(start, until, unit, pauses=pauses, provisional=True)
    if until <= start:
        return 0
    return _elapsed_days(clock.local(start).date(), clock.local(until).date(), unit, tuple(pauses))


def _spent_to(c: Clock, at: dt.datetime) -> dt.datetime:
    """A running clock has not spent today yet (a limit in days): on its last day one day is left."""
    if c.ended is not None or c.promised.unit is Unit.HOUR:
        return at
    return dt.datetime.combine(clock.local(at).date(), dt.time(0), tzinfo=clock.SHANGHAI) - dt.timedelta(microseconds=1)


def _intervals(c: Clock, at: dt.datetime, pauses: list[timelimits.Pause],
               spent_to: dt.datetime) -> tuple[Interval, ...]:
    """Running and paused stretches from the start to `at`, in order; overlapping procedures (two
    steps of one case in review at once) make one paused stretch. The running stretches' units
    add up to `used` (the last one counts to `spent_to`: not today while the clock runs)."""
    unit = c.promised.unit
    spans: list[tuple[dt.datetime, dt.datetime | None, list[Procedure]]] = []
    for p in sorted((p for p in c.procedures if not p.counts and p.started <= at), key=lambda p: p.started):
        end = p.ended if p.ended is not None and p.ended <= at else None
        if spans and (spans[-1][1] is None or p.started <= spans[-1][1]):
            last = spans[-1]
            merged_end = None if last[1] is None or end is None else max(last[1], end)
            spans[-1] = (last[0], merged_end, [*last[2], p])
        else:
            spans.append((p.started, end, [p]))
    out: list[Interval] = []
    cursor = c.started
    for start, end, procs in spans:
        if start > cursor:
            out.append(Interval(False, cursor, start, _elapsed(cursor, start, unit, pauses)))
        first_day, last_day = clock.local(start).date(), clock.local(end or at).date()
        out.append(Interval(True, start, end, timelimits.counted_days(first_day, last_day, unit, provisional=True),
                            "、".join(dict.fromkeys(p.kind for p in procs)),
                            "；".join(p.reason for p in procs if p.reason)))
        cursor = end or at
    if cursor < at or not out or out[-1].end is not None:
        stop = c.ended if c.ended is not None else None
        out.append(Interval(False, cursor, stop, _elapsed(cursor, max(spent_to, cursor), unit, pauses)))
    return tuple(out)


def elapsed_working_days(start: dt.datetime, end: dt.datetime) -> int:
    """Working days from `start` to `end` as the law counts them (the start day not counted):
    what a report says a case took."""
    return _elapsed(start, end, Unit.WORKING_DAY, [])
