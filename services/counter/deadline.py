"""`hall deadline`: when a time limit runs out, counted as the law counts it, offline (no suite
needed): the due date and how it was counted, for a clerk or an inspector to check."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from services.domain.calendar import CalendarDataError, CalendarYearUnknown
from services.domain.timelimits import Due, Pause, Unit, due
from services.runtime.clock import SHANGHAI

UNITS = {"working": Unit.WORKING_DAY, "natural": Unit.NATURAL_DAY, "hours": Unit.HOUR}


class DeadlineInputError(ValueError):
    """An argument a clerk mistyped; the message says which, in Chinese."""


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("deadline", help="when a time limit runs out, counted as the law counts it (offline)",
                       description="The due date of a time limit: the day of acceptance is not counted; "
                                   "working days exclude public holidays and include make-up working days "
                                   "(行政许可法 第八十二条); a pause's working days do not count (第四十五条).")
    p.add_argument("accepted", metavar="ACCEPT_DATE",
                   help="the day of acceptance, YYYY-MM-DD (with --unit hours: YYYY-MM-DDTHH:MM), Shanghai time")
    p.add_argument("amount", metavar="N", type=int, help="the time limit, in the unit")
    p.add_argument("--unit", choices=sorted(UNITS), default="working",
                   help="working days (default), natural days, or hours")
    p.add_argument("--pause", action="append", default=[], metavar="FROM..TO",
                   help="inclusive dates whose working days do not count (a hearing, an expert review…); repeatable")
    p.add_argument("--json", action="store_true", help='print {"due": "YYYY-MM-DD", ...} instead of the explanation')


def _accepted(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise DeadlineInputError(f"受理日期“{text}”不是 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI) if len(text) > 10 else dt.datetime.combine(
            value.date(), dt.time(9), tzinfo=SHANGHAI)
    return value


def _pause(text: str) -> Pause:
    first, sep, last = text.partition("..")
    try:
        if not sep:
            raise ValueError
        return Pause(dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    except ValueError:
        raise DeadlineInputError(f"暂停期间“{text}”不是 FROM..TO（YYYY-MM-DD..YYYY-MM-DD，起止日期含当日，起不晚于止）") from None


def compute(args: argparse.Namespace) -> Due:
    if args.amount < 0:
        raise DeadlineInputError("时限不能为负数")
    return due(_accepted(args.accepted), args.amount, UNITS[args.unit], pauses=[_pause(p) for p in args.pause])


def as_json(d: Due) -> dict[str, object]:
    return {
        "due": d.day.isoformat(), "due_at": d.at.astimezone(SHANGHAI).isoformat(),
        "accepted": d.accepted.astimezone(SHANGHAI).isoformat(), "amount": d.amount,
        "unit": d.unit.value, "provisional": d.provisional, "explanation": d.explanation(),
        "holidays": [{"name": n, "from": a.isoformat(), "to": b.isoformat()} for n, a, b in d.holidays],
        "makeup_days": [x.isoformat() for x in d.makeup_days],
        "pauses": [{"from": p.first.isoformat(), "to": p.last.isoformat(), "days": n} for p, n in d.paused],
    }


def run(args: argparse.Namespace) -> int:
    """Prints the due date; 2 with one line on a bad argument or a year not in the calendar."""
    try:
        d = compute(args)
    except (DeadlineInputError, CalendarYearUnknown, CalendarDataError) as exc:
        print(f"错误：{exc}")
        return 2
    if args.json:
        print(json.dumps(as_json(d), ensure_ascii=False))
    else:
        print(d.day.isoformat() if args.unit != "hours" else d.at.astimezone(SHANGHAI).isoformat(timespec="minutes"))
        print(d.explanation())
    return 0
