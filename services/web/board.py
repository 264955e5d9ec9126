"""What the hall's LED board shows, read over gRPC: each window's ticket (from intake's queue),
each group's wait, and today's figures (the queue's, and the cases accepted and completed today
from supervision)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import grpc

from hall.v1 import inspection_pb2 as ipb
from hall.v1 import inspection_pb2_grpc, queue_pb2, queue_pb2_grpc
from services.runtime import clock
from services.runtime.grpc_client import channel


def _time(ts: Any) -> str:
    return f"{clock.local(clock.from_timestamp(ts)):%H:%M:%S}" if ts.seconds else ""


class Board:
    def __init__(self, intake: str, supervision: str, poll_seconds: float = 1.0) -> None:
        self._channels = [channel(intake), channel(supervision)]
        self._queue = queue_pb2_grpc.QueueServiceStub(self._channels[0])
        self._inspection = inspection_pb2_grpc.InspectionServiceStub(self._channels[1])
        self.poll_seconds = poll_seconds

    def state(self) -> dict[str, Any]:
        got = self._queue.GetBoard(queue_pb2.GetBoardRequest(), timeout=5)
        today = clock.today().isoformat()
        cases: dict[str, int] = {}
        try:  # the board still shows the queue when supervision is away
            hall = self._inspection.GetReport(ipb.GetReportRequest(from_date=today, to_date=today,
                                                                   grouping=ipb.REPORT_GROUPING_DEPARTMENT), timeout=5).hall
            cases = {"accepted": hall.accepted, "completed": hall.completed}
        except grpc.RpcError:
            pass
        return {
            "windows": [{"window": w.window_id, "group": w.group, "ticket": w.ticket_number, "calls": w.calls,
                         "at": _time(w.called_at)} for w in got.windows],
            "groups": [{"group": g.group, "name": g.name, "waiting": g.waiting, "minutes": g.estimated_wait_minutes}
                       for g in got.groups],
            "recent": [{"window": c.window_id, "ticket": c.ticket_number, "at": _time(c.called_at), "calls": c.calls}
                       for c in got.recent_calls],
            "today": {"day": got.today.day, "taken": got.today.taken, "served": got.today.served,
                      "waiting": got.today.waiting, "no_show": got.today.no_show,
                      "average_wait": got.today.average_wait_minutes, **cases},
        }

    def events(self, *, stop_after_s: float | None = None) -> Iterator[str]:
        """Server-sent events: the whole board whenever it changed (a call, a recall, a new ticket),
        and a comment every poll so a closed page is noticed."""
        started, last = time.monotonic(), ""
        while stop_after_s is None or time.monotonic() - started < stop_after_s:
            try:
                now = json.dumps(self.state(), ensure_ascii=False, sort_keys=True)
                if now != last:
                    last = now
                    yield f"event: board\ndata: {now}\n\n"
            except grpc.RpcError as err:
                yield f": queue unavailable ({err.code().name})\n\n"  # type: ignore[attr-defined]
            yield ": still here\n\n"
            time.sleep(self.poll_seconds)

    def close(self) -> None:
        for ch in self._channels:
            ch.close()
