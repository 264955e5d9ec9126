"""Cards: raised once, appealed by their department with evidence, withdrawn or upheld by a
supervisor; each step of a card's life is a row of its history, never an update of the past."""

from __future__ import annotations

import datetime as dt
from typing import cast

import sqlalchemy as sa
import structlog
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hall.v1.inspection_pb2 import FeedKind
from services.runtime import clock
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.runtime.outbox import Outbox
from services.supervision import records
from services.supervision.feed import Feed
from services.supervision.ladder import LEVEL_WORDS, Level, Raise
from services.supervision.models import CardEventRow, CardRow, CaseRow, StepRow

log = structlog.get_logger(__name__)

OPEN, APPEALED, WITHDRAWN = "open", "appealed", "withdrawn"


def card_id(case_id: str, step_id: str, level: Level) -> str:
    return f"{case_id}/{step_id or 'case'}/{level.value}"


def raise_once(session: Session, outbox: Outbox, feed: Feed, case: CaseRow | None, step_id: str, department: str,
               r: Raise, now: dt.datetime, *, subject: str = "") -> int:
    """Insert the card unless it exists (1: this call raised it). The insert does nothing when
    another replica's transaction raised it first, so only one raises, records and announces.
    `subject`: an overdue complaint's or rectification's card (complaint:<id>), else the case's
    or the step's."""
    case_id = case.case_id if case is not None else ""
    cid = f"{subject}/{r.level.value}" if subject else card_id(case_id, step_id, r.level)
    values = dict(card_id=cid, case_id=case_id, step_id=step_id, department=department, level=r.level.value,
                  trigger=r.trigger.value, state=OPEN, explanation=r.explanation, raised_at=now, subject=subject)
    table = cast(sa.Table, CardRow.__table__)
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)).values(**values)
    # RETURNING, not rowcount: in psycopg's pipeline mode the count is not known until the sync.
    if session.execute(insert.on_conflict_do_nothing(index_elements=["card_id"])
                       .returning(table.c.card_id)).scalar() is None:
        return 0
    session.add(CardEventRow(card_id=cid, action="raised", actor_id="supervision", at=now, text=r.explanation,
                             evidence=[]))
    records.record(session, outbox, f"card/{cid}/raised", "card.raised", case_id=case_id, actor_id="supervision",
                   outcome=r.level.value, detail=r.explanation, step_id=step_id, department=department)
    feed.add(FeedKind.FEED_KIND_CARD, f"{LEVEL_WORDS[r.level]}：{r.explanation}", case_id=case_id, step_id=step_id,
             department=department, matter_code=(case.bundle_code or case.matter_code) if case is not None else "",
             level=LEVEL_NUMBERS[r.level], ref_id=cid, at=now)
    log.warning("card raised", card=LEVEL_WORDS[r.level], card_id=cid, department=department or "hall",
                explanation=r.explanation)
    return 1


LEVEL_NUMBERS = {Level.PRE_WARNING: 1, Level.YELLOW: 2, Level.RED: 3}  # hall.v1.CardLevel


def _announce(feed: Feed, card: CardRow, what: str, at: dt.datetime) -> None:
    feed.add(FeedKind.FEED_KIND_CARD, f"{LEVEL_WORDS[Level(card.level)]}{what}：{card.explanation}", case_id=card.case_id,
             step_id=card.step_id, department=card.department, level=LEVEL_NUMBERS[Level(card.level)],
             ref_id=card.card_id, at=at)


def history(session: Session, card_ids: list[str]) -> dict[str, list[CardEventRow]]:
    out: dict[str, list[CardEventRow]] = {c: [] for c in card_ids}
    if card_ids:
        for e in session.scalars(select(CardEventRow).where(CardEventRow.card_id.in_(card_ids))
                                 .order_by(CardEventRow.id)):
            out[e.card_id].append(e)
    return out


def _card(session: Session, cid: str) -> CardRow:
    if not cid:
        raise InvalidArgument("card_id is required", violations=[("card_id", "必须提供警示卡编号")])
    card = session.get(CardRow, cid, with_for_update=True)
    if card is None:
        raise NotFound(f"card {cid} not found", resource_type="hall.v1.Card", resource_name=cid)
    return card


def appeal(session: Session, outbox: Outbox, feed: Feed, cid: str, *, department: str, officer_id: str, reason: str,
           evidence: list[str]) -> CardRow:
    missing = [(f, d) for f, v, d in (("department", department, "必须提供申诉部门"),
                                       ("officer_id", officer_id, "必须提供承办人编号"),
                                       ("reason", reason.strip(), "申诉必须说明理由"),
                                       ("evidence", [e for e in evidence if e.strip()], "申诉必须附证据材料"))
               if not v]
    if missing:
        raise InvalidArgument("an appeal needs its department, officer, reason and evidence", violations=missing)
    card = _card(session, cid)
    own = {card.department} if card.department else set(session.scalars(
        select(StepRow.department).where(StepRow.case_id == card.case_id)))
    if department not in own:
        raise PermissionDenied(f"{department} may not appeal card {cid}", reason="NOT_YOUR_CARD")
    if card.state != OPEN:
        raise FailedPrecondition("该警示卡不在可申诉状态", violations=[("CARD_NOT_OPEN", cid, card.state)])
    now = clock.now()
    card.state = APPEALED
    session.add(CardEventRow(card_id=cid, action="appealed", actor_id=officer_id, at=now, text=reason.strip(),
                             evidence=[e.strip() for e in evidence if e.strip()]))
    records.record(session, outbox, f"card/{cid}/appealed/{now.isoformat()}", "card.appealed", case_id=card.case_id,
                   actor_id=officer_id, outcome=card.level, detail=reason, step_id=card.step_id,
                   department=department)
    _announce(feed, card, "被申诉", now)
    return card


def decide_appeal(session: Session, outbox: Outbox, feed: Feed, cid: str, *, supervisor_id: str, withdraw: bool,
                  note: str) -> CardRow:
    if not note.strip():
        raise InvalidArgument("a decision on an appeal states its grounds", violations=[("note", "必须说明处理意见")])
    card = _card(session, cid)
    if card.state != APPEALED:
        raise FailedPrecondition("该警示卡没有待处理的申诉", violations=[("NO_APPEAL", cid, card.state)])
    now = clock.now()
    card.state = WITHDRAWN if withdraw else OPEN
    action = "withdrawn" if withdraw else "upheld"
    session.add(CardEventRow(card_id=cid, action=action, actor_id=supervisor_id, at=now, text=note.strip(),
                             evidence=[]))
    records.record(session, outbox, f"card/{cid}/{action}/{now.isoformat()}", f"card.{action}",
                   case_id=card.case_id, actor_id=supervisor_id, outcome=card.level, detail=note,
                   step_id=card.step_id, department=card.department)
    _announce(feed, card, "已撤销" if withdraw else "申诉不成立，维持", now)
    return card


def listed(session: Session, *, department: str = "", level: str = "", state: str = "", case_id: str = "",
           limit: int = 100) -> list[CardRow]:
    query = select(CardRow)
    if department:
        query = query.where(CardRow.department == department)
    if level:
        query = query.where(CardRow.level == level)
    if state:
        query = query.where(CardRow.state == state)
    if case_id:
        query = query.where(CardRow.case_id == case_id)
    return list(session.scalars(query.order_by(CardRow.raised_at.desc(), CardRow.card_id).limit(limit)))
