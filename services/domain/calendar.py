"""The official working-day calendar (Asia/Shanghai): public holidays and make-up working days
(调休), year by year, as the State Council publishes them.

The years come from `chinese-calendar` and from the hall's own data file (data/calendar.toml,
or HALL_CALENDAR_FILE), which adds a year the package does not carry yet or corrects one. A
date in a year that neither holds raises CalendarYearUnknown: a deadline is never a guess.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from chinese_calendar import constants as _package

DEFAULT_FILE = Path(__file__).with_name("data") / "calendar.toml"
WEEKDAYS = "一二三四五六日"
# The package names its holidays in English; the hall's notices, and its clerks, in Chinese.
_NAMES = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
          "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "Mid-autumn Festival": "中秋节",
          "National Day": "国庆节", "Anti-Fascist 70th Day": "抗战胜利70周年纪念日"}


class CalendarYearUnknown(LookupError):
    """No arrangement of public holidays is known for `year`: the State Council has not published
    it yet, or nobody has added it to the hall's calendar file."""

    def __init__(self, year: int) -> None:
        super().__init__(f"{year}年节假日安排尚未公布或未录入日历（{year} is not in the official calendar）")
        self.year = year


class CalendarDataError(ValueError):
    """The hall's calendar file breaks a rule; the service refuses to start with it."""


@dataclass(frozen=True)
class Year:
    """One year's arrangement: its holidays (date -> name) and its make-up working days."""

    year: int
    holidays: Mapping[dt.date, str]
    workdays: Mapping[dt.date, str] = field(default_factory=dict)
    source: str = "chinese-calendar"


class OfficialCalendar:
    def __init__(self, years: Iterable[Year]) -> None:
        self._years = {y.year: y for y in years}

    @property
    def years(self) -> list[int]:
        return sorted(self._years)

    def year(self, year: int) -> Year:
        try:
            return self._years[year]
        except KeyError:
            raise CalendarYearUnknown(year) from None

    def knows(self, day: dt.date) -> bool:
        return day.year in self._years

    def is_working_day(self, day: dt.date) -> bool:
        arrangement = self.year(day.year)
        if day in arrangement.holidays:
            return False
        if day in arrangement.workdays:
            return True
        return day.weekday() < 5

    def holiday(self, day: dt.date) -> str | None:
        """The name of the public holiday `day` belongs to (None for a weekend or a working day)."""
        return self.year(day.year).holidays.get(day)

    def is_makeup_day(self, day: dt.date) -> bool:
        return day in self.year(day.year).workdays


def describe(day: dt.date) -> str:
    """`day` as a clerk reads it: 2026-10-09（星期五）."""
    return f"{day.isoformat()}（星期{WEEKDAYS[day.weekday()]}）"


def package_years() -> list[Year]:
    """The years `chinese-calendar` carries."""
    years: dict[int, Year] = {}
    for day, name in _package.holidays.items():
        years.setdefault(day.year, Year(day.year, {}, {}))
        years[day.year].holidays[day] = _NAMES.get(name, name)  # type: ignore[index]
    for day, name in _package.workdays.items():
        if day.year in years:
            years[day.year].workdays[day] = _NAMES.get(name, name)  # type: ignore[index]
    return list(years.values())


def parse_file(text: str, source: str) -> list[Year]:
    """The years of a calendar file (the format in data/calendar.toml), checked."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalendarDataError(f"{source}: {exc}") from None
    years = []
    for key, table in data.items():
        where = f"{source} [{key}]"
        if not key.isdigit() or not isinstance(table, dict):
            raise CalendarDataError(f"{where}: a table per year, named by the year (e.g. [2027])")
        year = int(key)
        holidays: dict[dt.date, str] = {}
        for item in table.get("holidays", []):
            name, days = (item.get("name", ""), item.get("days")) if isinstance(item, dict) else ("", item)
            for day in _days(days, where):
                _check_year(day, year, where)
                if day in holidays:
                    raise CalendarDataError(f"{where}: {day} is listed twice")
                holidays[day] = str(name) or "节假日"
        workdays: dict[dt.date, str] = {}
        for item in table.get("workdays", []):
            for day in _days(item, where):
                _check_year(day, year, where)
                if day in workdays:
                    raise CalendarDataError(f"{where}: {day} is listed twice")
                if day in holidays:
                    raise CalendarDataError(f"{where}: {day} is both a holiday and a make-up working day")
                if day.weekday() < 5:
                    raise CalendarDataError(f"{where}: make-up working day {describe(day)} is not a Saturday or Sunday")
                workdays[day] = "调休上班"
        years.append(Year(year, holidays, workdays, source=f"{source} {table.get('notice', '')}".strip()))
    return years


def _days(value: object, where: str) -> list[dt.date]:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return [value]
    if isinstance(value, str) and ".." in value:
        try:
            first, last = (dt.date.fromisoformat(v.strip()) for v in value.split("..", 1))
        except ValueError:
            raise CalendarDataError(f"{where}: {value!r} is not FROM..TO (YYYY-MM-DD..YYYY-MM-DD)") from None
        if last < first:
            raise CalendarDataError(f"{where}: {value!r} ends before it starts")
        return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    raise CalendarDataError(f"{where}: {value!r} is neither a date nor a FROM..TO range")


def _check_year(day: dt.date, year: int, where: str) -> None:
    if day.year != year:
        raise CalendarDataError(f"{where}: {day} is not in {year}")


def build(file: Path | None) -> OfficialCalendar:
    """The package's years, with the file's added or put in their place."""
    years = {y.year: y for y in package_years()}
    if file is not None and file.exists():
        years.update({y.year: y for y in parse_file(file.read_text(encoding="utf-8"), str(file))})
    return OfficialCalendar(years.values())


@cache
def official(file: str | None = None) -> OfficialCalendar:
    """The calendar in use: the package and the hall's file (HALL_CALENDAR_FILE, default
    data/calendar.toml), read once per process."""
    return build(Path(file or os.environ.get("HALL_CALENDAR_FILE") or DEFAULT_FILE))

