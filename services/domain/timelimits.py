"""Time limits counted as the law counts them (行政许可法, docs/time-limits.md).

- Working days (Art. 82: 期限以工作日计算，不含法定节假日): public holidays do not count, make-up
  working days (调休) do. The day of acceptance is not counted: day 1 is the first working day
  after it, so an acceptance on a Saturday or a holiday makes the next working day day 1.
- Natural days: counted from the day after acceptance; a period whose last day is not a working
  day ends on the next working day.
- Hours: from the moment of acceptance.
- A pause (a special procedure whose time does not count, Art. 45: hearing, tender, auction,
  testing, inspection, quarantine, appraisal, expert review) takes its days out of the count:
  the budget is kept, not reset.
- A limit of 0 (an immediate matter, 即办件) is due the day of acceptance.

A deadline always ends at the end of its day in Shanghai (hours: at its minute). A date in a
year the official calendar does not hold raises CalendarYearUnknown, unless the caller asks for a
provisional deadline: then that year's Mondays to Fridays count, and the deadline says so.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from services.domain.calendar import CalendarYearUnknown, OfficialCalendar, describe, official
from services.runtime import clock
from services.runtime.clock import SHANGHAI


class Unit(enum.Enum):
    WORKING_DAY = "working"
    NATURAL_DAY = "natural"
    HOUR = "hours"


_UNIT_WORDS = {Unit.WORKING_DAY: "个工作日", Unit.NATURAL_DAY: "日（自然日）", Unit.HOUR: "小时"}


@dataclass(frozen=True)
class Pause:
    """Days whose time does not count (inclusive), e.g. an expert review."""

    first: dt.date
    last: dt.date
    reason: str = "暂停"

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"a pause ends before it starts: {self.first}..{self.last}")

    def covers(self, day: dt.date) -> bool:
        return self.first <= day <= self.last


@dataclass(frozen=True)
class Due:
    """A deadline and how it was counted."""

    at: dt.datetime
    unit: Unit
    amount: int
    accepted: dt.datetime
    provisional: bool = False
    # What the count passed over, for the explanation: (holiday name, first day, last day), the
    # make-up working days that counted, weekend days skipped, paused days by pause.
    holidays: tuple[tuple[str, dt.date, dt.date], ...] = ()
    makeup_days: tuple[dt.date, ...] = ()
    weekend_days: int = 0
    paused: tuple[tuple[Pause, int], ...] = ()
    unknown_years: tuple[int, ...] = field(default=())
    # Natural days: the last day was not a working day and the period ran on to the next one.
    holidays_at_end: bool = False

    @property
    def day(self) -> dt.date:
        return clock.local(self.at).date()

    def explanation(self) -> str:
        """The count in Chinese, as a clerk or an inspector reads it."""
        accepted = clock.local(self.accepted)
        if self.amount == 0:
            parts = [f"即办件，受理当日 {describe(accepted.date())} 办结"]
        elif self.unit is Unit.HOUR:
            parts = [f"自 {accepted:%Y-%m-%d %H:%M} 受理起算 {self.amount} 小时"]
        else:
            parts = [f"受理日 {describe(accepted.date())}不计入，自次日起算 {self.amount} {_UNIT_WORDS[self.unit]}"]
        for name, first, last in self.holidays:
            span = first.isoformat() if first == last else f"{first.isoformat()} 至 {last.isoformat()}"
            parts.append(f"{name}放假 {span} 不计")
        parts += [f"{describe(d)}调休上班，计入" for d in self.makeup_days]
        if self.weekend_days:
            parts.append(f"周末 {self.weekend_days} 天不计")
        for pause, days in self.paused:
            what = "个工作日" if self.unit is Unit.WORKING_DAY else "天"
            parts.append(f"{pause.reason}暂停 {days} {what}（{pause.first.isoformat()} 至 {pause.last.isoformat()}）")
        if self.unit is Unit.NATURAL_DAY and self.holidays_at_end:
            parts.append("期限末日非工作日，顺延至其后第一个工作日")
        if self.provisional:
            years = "、".join(str(y) for y in self.unknown_years)
            parts.append(f"{years}年节假日安排尚未公布，暂按周一至周五计算，公布后重新计算")
        when = f"{clock.local(self.at):%Y-%m-%d %H:%M}" if self.unit is Unit.HOUR else describe(self.day)
        parts.append(f"到期 {when}")
        return "；".join(parts) + "。"


class _Counting:
    """A calendar that, when asked to, counts a year it does not know as Mondays to Fridays, and
    remembers that it did."""

    def __init__(self, calendar: OfficialCalendar, provisional: bool) -> None:
        self.calendar = calendar
        self.provisional = provisional
        self.unknown: set[int] = set()

    def is_working_day(self, day: dt.date) -> bool:
        if self.calendar.knows(day) or not self.provisional:
            return self.calendar.is_working_day(day)
        self.unknown.add(day.year)
        return day.weekday() < 5

    def holiday(self, day: dt.date) -> str | None:
        return self.calendar.holiday(day) if self.calendar.knows(day) else None

    def is_makeup_day(self, day: dt.date) -> bool:
        return self.calendar.is_makeup_day(day) if self.calendar.knows(day) else False


def end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59, 999999), tzinfo=SHANGHAI)


def due(accepted: dt.datetime, amount: int, unit: Unit = Unit.WORKING_DAY, *, pauses: Sequence[Pause] = (),
        calendar: OfficialCalendar | None = None, provisional: bool = False) -> Due:
    """When a limit of `amount` `unit`s from `accepted` runs out, with `pauses` taken out."""
    if accepted.tzinfo is None:
        raise ValueError("naive datetime")
    if amount < 0:
        raise ValueError("a time limit is never negative")
    counting = _Counting(calendar or official(), provisional)
    start = clock.local(accepted)
    if unit is Unit.HOUR:
        at, paused = _hours(start, amount, pauses)
        return Due(at, unit, amount, accepted, paused=paused)
    walk = _Walk(counting, pauses)
    day = start.date()
    if amount:
        counted = 0
        while counted < amount:
            day += dt.timedelta(days=1)
            if walk.paused(day):
                continue
            if unit is Unit.NATURAL_DAY or counting.is_working_day(day):
                counted += 1
                walk.counted(day)
            else:
                walk.skipped(day)
        at_end = False
        while unit is Unit.NATURAL_DAY and (walk.paused_quietly(day) or not counting.is_working_day(day)):
            at_end = True
            walk.skipped(day)
            day += dt.timedelta(days=1)
    else:
        at_end = False
    counting.is_working_day(day)  # a due day in an unknown year: raise, or note it as provisional
    return Due(end_of_day(day), unit, amount, accepted, provisional=bool(counting.unknown),
               holidays=walk.holiday_spans(), makeup_days=tuple(walk.makeups), weekend_days=walk.weekend_days,
               paused=walk.pause_counts(), unknown_years=tuple(sorted(counting.unknown)), holidays_at_end=at_end)


class _Walk:
    """What a count passed over, day by day."""

    def __init__(self, counting: _Counting, pauses: Sequence[Pause]) -> None:
        self._counting = counting
        self._pauses = list(pauses)
        self._paused: dict[Pause, int] = {}
        self._holidays: list[tuple[str, dt.date]] = []
        self.makeups: list[dt.date] = []
        self.weekend_days = 0

    def _pause_of(self, day: dt.date) -> Pause | None:
        return next((p for p in self._pauses if p.covers(day)), None)

    def paused(self, day: dt.date) -> bool:
        pause = self._pause_of(day)
        if pause is None:
            return False
        # A pause takes out the days that would have counted: working days, or any day.
        self._paused[pause] = self._paused.get(pause, 0) + 1
        return True

    def paused_quietly(self, day: dt.date) -> bool:
        return self._pause_of(day) is not None

    def counted(self, day: dt.date) -> None:
        if self._counting.is_makeup_day(day):
            self.makeups.append(day)

    def skipped(self, day: dt.date) -> None:
        name = self._counting.holiday(day)
        if name is not None:
            self._holidays.append((name, day))
        elif not self._counting.is_working_day(day):
            self.weekend_days += 1

    def holiday_spans(self) -> tuple[tuple[str, dt.date, dt.date], ...]:
        spans: list[list[object]] = []
        for name, day in self._holidays:
            if spans and spans[-1][0] == name and (day - spans[-1][2]).days <= 3:  # type: ignore[operator]
                spans[-1][2] = day
            else:
                spans.append([name, day, day])
        return tuple((str(n), a, b) for n, a, b in spans)  # type: ignore[misc]

    def pause_counts(self) -> tuple[tuple[Pause, int], ...]:
        return tuple(self._paused.items())


def _hours(start: dt.datetime, amount: int, pauses: Iterable[Pause]) -> tuple[dt.datetime, tuple[tuple[Pause, int], ...]]:
    remaining = dt.timedelta(hours=amount)
    at = start
    skipped: dict[Pause, int] = {}
    while remaining > dt.timedelta(0):
        next_midnight = dt.datetime.combine(at.date() + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI)
        pause = next((p for p in pauses if p.covers(at.date())), None)
        if pause is not None:
            skipped[pause] = skipped.get(pause, 0) + 1
            at = next_midnight
            continue
        step = min(remaining, next_midnight - at)
        at += step
        remaining -= step
    return at, tuple(skipped.items())


def elapsed(start: dt.datetime, until: dt.datetime, unit: Unit = Unit.WORKING_DAY, *, pauses: Sequence[Pause] = (),
            calendar: OfficialCalendar | None = None, provisional: bool = False) -> int:
    """How many `unit`s of a limit running from `start` are spent by `until`, paused days left
    out: the days after the start day up to and including `until`'s day that count (as `due`
    counts them), or the whole hours. Never negative."""
    if until <= start:
        return 0
    if unit is Unit.HOUR:
        spent = dt.timedelta(0)
        at, end = clock.local(start), clock.local(until)
        while at < end:
            next_midnight = dt.datetime.combine(at.date() + dt.timedelta(days=1), dt.time(0), tzinfo=SHANGHAI)
            step_end = min(end, next_midnight)
            if not any(p.covers(at.date()) for p in pauses):
                spent += step_end - at
            at = step_end
        return int(spent.total_seconds() // 3600)
    counting = _Counting(calendar or official(), provisional)
    day, last = clock.local(start).date(), clock.local(until).date()
    spent_days = 0
    while day < last:
        day += dt.timedelta(days=1)
        if any(p.covers(day) for p in pauses):
            continue
        if unit is Unit.NATURAL_DAY or counting.is_working_day(day):
            spent_days += 1
    return spent_days


def counted_days(first: dt.date, last: dt.date, unit: Unit, *, calendar: OfficialCalendar | None = None,
                 provisional: bool = False) -> int:
    """The days from `first` to `last` (inclusive) that a limit in `unit` counts: what a pause
    over them takes out (hours: 24 a day)."""
    counting = _Counting(calendar or official(), provisional)
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    if unit is Unit.HOUR:
        return 24 * len(days)
    return sum(1 for d in days if unit is Unit.NATURAL_DAY or counting.is_working_day(d))


__all__ = ["CalendarYearUnknown", "Due", "Pause", "Unit", "counted_days", "due", "elapsed", "end_of_day"]
