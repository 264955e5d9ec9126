"""The one place the suite reads the time: always timezone-aware."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from google.protobuf.timestamp_pb2 import Timestamp

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(UTC)


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
