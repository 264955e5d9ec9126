"""Moves the whole suite's clock (HALL_CLOCK_FILE, services/runtime/clock.py) for an end-to-end
test: every process started with the file reads the moment last written to it, running on in
real time from the write. Only forwards: the suite's processes never see time run back."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path


class FakeClock:
    def __init__(self, path: Path, start: dt.datetime) -> None:
        self.path = path
        self._last = start
        self._write(start)

    def set(self, moment: dt.datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("naive datetime")
        if moment < self._last:
            raise ValueError(f"the suite's clock only moves forwards ({self._last} → {moment})")
        self._last = moment
        self._write(moment)

    def _write(self, moment: dt.datetime) -> None:
        # Written aside and renamed: a process never reads half a date-time.
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(moment.isoformat(), encoding="utf-8")
        os.replace(tmp, self.path)
