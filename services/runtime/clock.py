"""The one place the suite reads the time: always timezone-aware.

HALL_CLOCK_FILE (tests and drills only, never in production): a file holding an ISO date-time.
While it is set, the clock of every process started with it reads that moment as of the file's
last change, and runs on from there in real time: an end-to-end test moves the whole suite to
the days before a holiday, or a month on, by rewriting the file (tests/support/fake_clock.py).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from google.protobuf.timestamp_pb2 import Timestamp

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _real_now() -> datetime:
    return datetime.now(UTC)


class _FileClock:
    """The moment in `path`, as of the file's modification time, running on in real time."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._seen: tuple[int, timedelta] = (-1, timedelta(0))

    def now(self) -> datetime:
        try:
            stat = os.stat(self._path)
        except FileNotFoundError:
            return _real_now()
        if stat.st_mtime_ns != self._seen[0]:
            with open(self._path, encoding="utf-8") as f:
                moment = datetime.fromisoformat(f.read().strip())
            if moment.tzinfo is None:
                raise ValueError(f"HALL_CLOCK_FILE {self._path}: naive date-time {moment}")
            written = datetime.fromtimestamp(stat.st_mtime_ns / 1e9, UTC)
            self._seen = (stat.st_mtime_ns, moment - written)
        return _real_now() + self._seen[1]


_FILE = os.environ.get("HALL_CLOCK_FILE")
now = _FileClock(_FILE).now if _FILE else _real_now


def local(value: datetime | None = None) -> datetime:
    """`value` (default: now) in the hall's time zone, Asia/Shanghai: what a clerk's clock says."""
    return (now() if value is None else value).astimezone(SHANGHAI)


def today() -> date:
    """Today's date in Shanghai (a date of birth is checked against it, a permit numbered by its year)."""
    return local().date()


def to_timestamp(value: datetime | None) -> Timestamp:
    ts = Timestamp()
    if value is not None:
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        ts.FromDatetime(value.astimezone(UTC))
    return ts


def from_timestamp(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)
