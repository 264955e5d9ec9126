"""The one place the suite reads the time: always timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from google.protobuf.timestamp_pb2 import Timestamp

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return datetime.now(UTC)


def to_timestamp(value: datetime | None) -> Timestamp:
    ts = Timestamp()
    if value is not None:
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        ts.FromDatetime(value.astimezone(UTC))
    return ts


def from_timestamp(ts: Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)
