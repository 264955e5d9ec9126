"""Supervision's rows and ledgers as the contract's messages (hall.v1 supervision.proto)."""

from __future__ import annotations

from hall.v1 import common_pb2
from hall.v1 import supervision_pb2 as pb
from services.domain.timelimits import Unit
from services.runtime import clock
from services.supervision.ledger import Ledger
from services.supervision.models import CardEventRow, CardRow, ExtensionRow, NoticeRow

UNITS = {Unit.WORKING_DAY: common_pb2.TimeLimit.UNIT_WORKING_DAY, Unit.NATURAL_DAY: common_pb2.TimeLimit.UNIT_NATURAL_DAY,
         Unit.HOUR: common_pb2.TimeLimit.UNIT_HOUR}
LEVELS = {"pre_warning": pb.CARD_LEVEL_PRE_WARNING, "yellow": pb.CARD_LEVEL_YELLOW, "red": pb.CARD_LEVEL_RED}
TRIGGERS = {"budget_low": pb.CARD_TRIGGER_BUDGET_LOW, "promised_passed": pb.CARD_TRIGGER_PROMISED_PASSED,
            "statutory_passed": pb.CARD_TRIGGER_STATUTORY_PASSED,
            "extension_after_expiry": pb.CARD_TRIGGER_EXTENSION_AFTER_EXPIRY,
            "refusal_without_reason": pb.CARD_TRIGGER_REFUSAL_WITHOUT_REASON}
STATES = {"open": pb.CARD_STATE_OPEN, "appealed": pb.CARD_STATE_APPEALED, "withdrawn": pb.CARD_STATE_WITHDRAWN}
ACTIONS = {"raised": pb.CARD_ACTION_RAISED, "appealed": pb.CARD_ACTION_APPEALED,
           "withdrawn": pb.CARD_ACTION_WITHDRAWN, "upheld": pb.CARD_ACTION_UPHELD}
EXTENSION_STATES = {"requested": pb.EXTENSION_STATE_REQUESTED, "approved": pb.EXTENSION_STATE_APPROVED,
                    "refused": pb.EXTENSION_STATE_REFUSED, "late": pb.EXTENSION_STATE_LATE}
NOTICE_KINDS = {"special_procedure": pb.NOTICE_KIND_SPECIAL_PROCEDURE, "extension": pb.NOTICE_KIND_EXTENSION}


def _ts(target, value) -> None:  # type: ignore[no-untyped-def]
    if value is not None:
        target.CopyFrom(clock.to_timestamp(value))


def deadline(ledger: Ledger, *, step_id: str = "", department: str = "", late: bool = False) -> pb.Deadline:
    c = ledger.clock
    state = (pb.CLOCK_STATE_STOPPED if ledger.stopped else
             pb.CLOCK_STATE_PAUSED if ledger.paused_now else pb.CLOCK_STATE_RUNNING)
    d = pb.Deadline(step_id=step_id, department=department, state=state, unit=UNITS[c.promised.unit],
                    promised_amount=c.promised.amount, statutory_amount=c.statutory.amount,
                    extension_amount=c.extension, used=ledger.used, remaining=ledger.remaining,
                    promised_explanation=ledger.promised.explanation(),
                    statutory_explanation=ledger.statutory.explanation(), provisional=ledger.provisional,
                    overdue=ledger.statutory_passed or late)
    _ts(d.started_at, c.started)
    _ts(d.ended_at, c.ended)
    _ts(d.promised_due, ledger.promised.at)
    _ts(d.statutory_due, ledger.statutory.at)
    for i in ledger.intervals:
        entry = d.ledger.add(kind=pb.INTERVAL_KIND_PAUSED if i.paused else pb.INTERVAL_KIND_RUNNING,
                             procedure=i.procedure, reason=i.reason, units=i.units)
        _ts(entry.start, i.start)
        _ts(entry.end, i.end)
    return d


def card(row: CardRow, events: list[CardEventRow]) -> pb.Card:
    c = pb.Card(card_id=row.card_id, case_id=row.case_id, step_id=row.step_id, department=row.department,
                level=LEVELS[row.level], trigger=TRIGGERS[row.trigger], state=STATES[row.state],
                explanation=row.explanation, subject=row.subject or "")
    _ts(c.raised_at, row.raised_at)
    for e in events:
        h = c.history.add(action=ACTIONS[e.action], actor_id=e.actor_id, text=e.text, evidence=list(e.evidence or []))
        _ts(h.at, e.at)
    return c


def extension(row: ExtensionRow) -> pb.Extension:
    e = pb.Extension(extension_id=row.extension_id, case_id=row.case_id, step_id=row.step_id,
                     department=row.department, reason=row.reason, requested_by=row.requested_by,
                     state=EXTENSION_STATES[row.state], amount=row.amount, decided_by=row.decided_by,
                     decision_note=row.decision_note)
    _ts(e.requested_at, row.requested_at)
    _ts(e.decided_at, row.decided_at)
    return e


def notice(row: NoticeRow) -> pb.ApplicantNotice:
    n = pb.ApplicantNotice(notice_id=row.notice_id, kind=NOTICE_KINDS[row.kind], step_id=row.step_id,
                           department=row.department, text=row.text)
    _ts(n.at, row.at)
    return n
