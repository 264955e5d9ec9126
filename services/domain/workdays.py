"""The working-day calendar (Asia/Shanghai): public holidays and swapped working days (调休).

The official calendar is published yearly; we take it from `chinese-calendar`. For a year it does
not cover yet, Monday to Friday count as working days and a warning is logged once per year,
so a deadline is never silently wrong: operators update the package when the State Council
publishes the next year's arrangement.
"""

from __future__ import annotations

import datetime as dt
import functools

import chinese_calendar
import structlog

from services.runtime.clock import SHANGHAI

log = structlog.get_logger(__name__)
_warned: set[int] = set()


@functools.lru_cache(maxsize=8192)  # a pure function of the date; the router asks it per step
def is_working_day(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        if day.year not in _warned:
            _warned.add(day.year)
            log.warning("official calendar missing for year; counting Monday-Friday", year=day.year)
        return day.weekday() < 5


def end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59, 999999), tzinfo=SHANGHAI)


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """The deadline `days` working days after `start`: the end of that working day in Shanghai.

    0 days means the end of the day of `start` if it is a working day, else of the next working day.
    """
    if start.tzinfo is None:
        raise ValueError("naive datetime")
    if days < 0:
        raise ValueError("days must be >= 0")
    day = start.astimezone(SHANGHAI).date()
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    remaining = days
    while remaining:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return end_of_day(day)


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days in (start, end]."""
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        count += is_working_day(day)
    return count
