"""Cards for what is not a case: a complaint not answered within its 10 working days, and a bad
evaluation not rectified within its 15. Each raises one yellow card (like a case past its
promised limit), found by the sweep; the card's subject names it (complaint:<id>)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall.v1 import inspection_pb2 as ipb
from services.runtime import clock
from services.runtime.outbox import Outbox
from services.supervision import cards
from services.supervision.feed import Feed
from services.supervision.ladder import Level, Raise, Trigger
from services.supervision.models import CaseRow, ComplaintRow, EvaluationRow


def _day(value: dt.datetime) -> str:
    local = clock.local(value)
    return f"{local.month}月{local.day}日"


def sweep(session: Session, outbox: Outbox, feed: Feed, now: dt.datetime) -> int:
    raised = 0
    for c in session.scalars(select(ComplaintRow).where(ComplaintRow.state == ipb.COMPLAINT_STATE_OPEN,
                                                        ComplaintRow.due_at < now)):
        r = Raise(Level.YELLOW, Trigger.PROMISED_PASSED,
                  f"投诉答复期限 {_day(c.due_at)}已过（收到投诉后10个工作日内答复）。")
        raised += cards.raise_once(session, outbox, feed, session.get(CaseRow, c.case_id) if c.case_id else None,
                                   "", c.department, r, now, subject=f"complaint:{c.complaint_id}")
    for e in session.scalars(select(EvaluationRow).where(EvaluationRow.state == ipb.EVALUATION_STATE_RECTIFYING,
                                                         EvaluationRow.due_at < now)):
        assert e.due_at is not None
        r = Raise(Level.YELLOW, Trigger.PROMISED_PASSED,
                  f"差评整改期限 {_day(e.due_at)}已过（评价后15个工作日内整改并回访）。")
        raised += cards.raise_once(session, outbox, feed, session.get(CaseRow, e.case_id) if e.case_id else None,
                                   "", e.department, r, now, subject=f"rectification:{e.evaluation_id}")
    return raised
