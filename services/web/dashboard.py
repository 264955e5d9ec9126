"""What the supervision dashboard shows, read from the supervision service over gRPC: the open
cards, each department's on-time and on-site rates this month against the hall's targets, and
the live feed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import grpc

from hall.v1 import inspection_pb2 as ipb
from hall.v1 import inspection_pb2_grpc, supervision_pb2, supervision_pb2_grpc
from services.catalogue import load as load_catalogue
from services.runtime import clock
from services.runtime.grpc_client import channel

LEVEL_WORDS = {1: "预警", 2: "黄牌", 3: "红牌"}
STATE_WORDS = {1: "有效", 2: "申诉中", 3: "已撤销"}


def _time(ts: Any) -> str:
    return f"{clock.local(clock.from_timestamp(ts)):%m-%d %H:%M}"


def _rate(r: ipb.Rate) -> dict[str, Any]:
    return {"defined": r.defined, "percent": r.basis_points / 100, "target": r.target_basis_points / 100,
            "meets": r.meets_target, "of": f"{r.numerator}/{r.denominator}"}


def entry_json(e: ipb.FeedEntry) -> dict[str, Any]:
    return {"cursor": e.cursor, "kind": ipb.FeedKind.Name(e.kind).removeprefix("FEED_KIND_").lower(),
            "case_id": e.case_id, "department": e.department, "level": LEVEL_WORDS.get(e.level, ""),
            "text": e.text, "at": _time(e.at)}


class Dashboard:
    def __init__(self, address: str, poll_seconds: float = 1.0) -> None:
        self._channel = channel(address)
        self._cards = supervision_pb2_grpc.SupervisionServiceStub(self._channel)
        self._inspection = inspection_pb2_grpc.InspectionServiceStub(self._channel)
        self.poll_seconds = poll_seconds
        self._catalogue = load_catalogue()  # the departments' names

    def state(self) -> dict[str, Any]:
        """Open cards (newest first), this month's figures per department, the last feed entries."""
        today = clock.today()
        first = today.replace(day=1)
        cards = self._cards.ListCards(supervision_pb2.ListCardsRequest(state=supervision_pb2.CARD_STATE_OPEN,
                                                                       limit=100), timeout=5).cards
        report = self._inspection.GetReport(ipb.GetReportRequest(
            from_date=first.isoformat(), to_date=today.isoformat(), grouping=ipb.REPORT_GROUPING_DEPARTMENT),
            timeout=10)
        feed = [r.entry for r in self._inspection.WatchFeed(ipb.WatchFeedRequest(last=30), timeout=5)]
        return {
            "period": f"{first:%Y-%m-%d} 至 {today:%Y-%m-%d}",
            "cards": [{"card_id": c.card_id, "case_id": c.case_id, "department": self._name(c.department),
                       "level": LEVEL_WORDS.get(c.level, ""), "state": STATE_WORDS.get(c.state, ""),
                       "explanation": c.explanation, "raised_at": _time(c.raised_at)} for c in cards],
            "departments": [{"key": r.key, "name": r.name, "accepted": r.accepted, "completed": r.completed,
                             "on_time": _rate(r.on_time), "on_site": _rate(r.on_site),
                             "cards": r.open_yellow_cards + r.open_red_cards}
                            for r in [*report.rows, report.hall]],
            "feed": [entry_json(e) for e in reversed(feed)],
            "cursor": feed[-1].cursor if feed else 0,
        }

    def events(self, after: int, *, stop_after_s: float | None = None) -> Iterator[str]:
        """Server-sent events: each new feed entry (its cursor as the event id, so a reconnecting
        browser resumes with Last-Event-ID), and a comment every poll so a closed page is noticed."""
        started = time.monotonic()
        while stop_after_s is None or time.monotonic() - started < stop_after_s:
            try:
                for r in self._inspection.WatchFeed(ipb.WatchFeedRequest(after=after), timeout=10):
                    after = r.entry.cursor
                    yield f"id: {after}\ndata: {json.dumps(entry_json(r.entry), ensure_ascii=False)}\n\n"
            except grpc.RpcError as err:
                yield f": supervision unavailable ({err.code().name})\n\n"  # type: ignore[attr-defined]
            yield ": still here\n\n"
            time.sleep(self.poll_seconds)

    def _name(self, department: str) -> str:
        found = self._catalogue.departments.get(department) if department else None
        return found.name if found is not None else (department or "中心")

    def close(self) -> None:
        self._channel.close()


__all__ = ["Dashboard"]
