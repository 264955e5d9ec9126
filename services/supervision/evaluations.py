"""Evaluations (好差评, 一次一评): one per case or per window visit, from the window's evaluator or
the applicant's link. A bad one (不满意, 非常不满意) opens a rectification due in 15 working days on
the hall's calendar, with the call-back to the applicant recorded (every bad one is called back);
the department may appeal a mistaken or malicious review and a supervisor decides. Who rated is
kept for the call-back and shown to supervisors only, never to the department."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall.v1 import inspection_pb2 as ipb
from hall.v1.inspection_pb2 import FeedKind
from services.domain import timelimits
from services.runtime import clock
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.runtime.outbox import Outbox
from services.supervision import records
from services.supervision.feed import Feed
from services.supervision.models import CaseRow, EvaluationRow, StepRow

S = ipb.EvaluationState
BAD = {ipb.SATISFACTION_DISSATISFIED, ipb.SATISFACTION_VERY_DISSATISFIED}
GOOD = {ipb.SATISFACTION_VERY_SATISFIED, ipb.SATISFACTION_SATISFIED, ipb.SATISFACTION_BASICALLY_SATISFIED}
WORDS: dict[int, str] = {ipb.SATISFACTION_VERY_SATISFIED: "非常满意", ipb.SATISFACTION_SATISFIED: "满意",
                         ipb.SATISFACTION_BASICALLY_SATISFIED: "基本满意", ipb.SATISFACTION_DISSATISFIED: "不满意",
                         ipb.SATISFACTION_VERY_DISSATISFIED: "非常不满意"}
RECTIFICATION_DAYS = 15


def evaluate(session: Session, outbox: Outbox, feed: Feed, req: ipb.EvaluateRequest) -> tuple[EvaluationRow, bool]:
    problems = []
    if not req.case_id and not req.visit_id:
        problems.append(("case_id", "必须提供所评价的案件编号或窗口办事记录编号"))
    if req.level not in WORDS:
        problems.append(("level", "评价等级须为非常满意、满意、基本满意、不满意或非常不满意"))
    if req.channel not in (ipb.EVALUATION_CHANNEL_WINDOW, ipb.EVALUATION_CHANNEL_LINK):
        problems.append(("channel", "评价渠道须为窗口评价器或评价链接"))
    if len(req.comment) > 500:
        problems.append(("comment", "评价意见不超过500字"))
    if problems:
        raise InvalidArgument("评价信息不完整：须有评价对象、等级和渠道", violations=problems)
    rated = f"visit:{req.visit_id}" if req.visit_id else f"case:{req.case_id}"
    found = session.scalar(select(EvaluationRow).where(EvaluationRow.rated == rated))
    if found is not None:
        return found, True  # 一次一评: the first evaluation stands
    case = session.get(CaseRow, req.case_id) if req.case_id else None
    if req.case_id and case is None:
        raise NotFound(f"电子监察尚无案件 {req.case_id}（刚受理的案件请稍候片刻再试）", resource_type="hall.v1.Case",
                       resource_name=req.case_id)
    department = ""
    if case is not None and not req.visit_id:
        departments = sorted(set(session.scalars(select(StepRow.department).where(StepRow.case_id == case.case_id))))
        department = departments[0] if len(departments) == 1 else ""  # several: the hall answers for it
    now = clock.now()
    bad = req.level in BAD
    row = EvaluationRow(evaluation_id=uuid.uuid4().hex, rated=rated, case_id=req.case_id, visit_id=req.visit_id,
                        level=req.level, channel=req.channel, comment=req.comment.strip(),
                        evaluator=req.evaluator.strip(), clerk_id=req.clerk_id or (case.clerk_id if case else ""),
                        department=department, state=S.EVALUATION_STATE_RECTIFYING if bad else S.EVALUATION_STATE_RECORDED,
                        at=now, due_at=timelimits.due(now, RECTIFICATION_DAYS, provisional=True).at if bad else None,
                        called_back_at=None, called_back_by="", callback_note="", done_at=None, done_by="",
                        done_note="", appeal_reason="", appeal_evidence=[], decision_note="")
    session.add(row)
    session.flush()
    _record(session, outbox, feed, row, "evaluation.recorded", f"评价：{WORDS[req.level]}"
            + ("，须在15个工作日内整改并回访" if bad else ""), req.clerk_id)
    return row, False


def _load(session: Session, evaluation_id: str) -> EvaluationRow:
    if not evaluation_id:
        raise InvalidArgument("必须提供评价编号", violations=[("evaluation_id", "必须提供评价编号")])
    row = session.get(EvaluationRow, evaluation_id, with_for_update=True)
    if row is None:
        raise NotFound(f"evaluation {evaluation_id} not found", resource_type="hall.v1.Evaluation",
                       resource_name=evaluation_id)
    return row


def _own(row: EvaluationRow, department: str) -> None:
    if department != row.department:
        raise PermissionDenied(f"{department or 'the hall'} does not answer for evaluation {row.evaluation_id}",
                               reason="NOT_YOUR_EVALUATION")


def _required(**fields: tuple[str, str]) -> None:
    missing = [(name, words) for name, (value, words) in fields.items() if not value.strip()]
    if missing:
        raise InvalidArgument("缺少必填项", violations=missing)


def callback(session: Session, outbox: Outbox, feed: Feed, evaluation_id: str, *, officer_id: str,
             note: str) -> EvaluationRow:
    _required(officer_id=(officer_id, "必须提供回访人编号"), note=(note, "必须记录回访情况"))
    row = _load(session, evaluation_id)
    if row.level not in BAD:
        raise FailedPrecondition("好评无需回访", violations=[("NOT_A_BAD_REVIEW", evaluation_id, WORDS[row.level])])
    row.called_back_at, row.called_back_by, row.callback_note = clock.now(), officer_id, note.strip()
    _record(session, outbox, feed, row, "evaluation.called_back", f"差评回访：{note.strip()}", officer_id)
    return row


def complete(session: Session, outbox: Outbox, feed: Feed, evaluation_id: str, *, department: str, officer_id: str,
             note: str) -> EvaluationRow:
    _required(officer_id=(officer_id, "必须提供整改负责人编号"), note=(note, "必须说明整改情况"))
    row = _load(session, evaluation_id)
    _own(row, department)
    if row.state != S.EVALUATION_STATE_RECTIFYING:
        raise FailedPrecondition("该评价不在整改中", violations=[("NOT_RECTIFYING", evaluation_id, str(row.state))])
    if row.called_back_at is None:
        raise FailedPrecondition("整改办结前须先回访申请人", violations=[("NOT_CALLED_BACK", evaluation_id, "")])
    row.state, row.done_at, row.done_by, row.done_note = S.EVALUATION_STATE_RECTIFIED, clock.now(), officer_id, note.strip()
    _record(session, outbox, feed, row, "evaluation.rectified", f"差评整改完成：{note.strip()}", officer_id)
    return row


def appeal(session: Session, outbox: Outbox, feed: Feed, evaluation_id: str, *, department: str, officer_id: str,
           reason: str, evidence: list[str]) -> EvaluationRow:
    _required(officer_id=(officer_id, "必须提供申诉人编号"), reason=(reason, "申诉必须说明理由"))
    if not [e for e in evidence if e.strip()]:
        raise InvalidArgument("申诉必须附证据材料", violations=[("evidence", "申诉必须附证据材料")])
    row = _load(session, evaluation_id)
    _own(row, department)
    if row.state != S.EVALUATION_STATE_RECTIFYING:
        raise FailedPrecondition("只有整改中的差评可以申诉", violations=[("NOT_RECTIFYING", evaluation_id, str(row.state))])
    row.state, row.appeal_reason = S.EVALUATION_STATE_APPEALED, reason.strip()
    row.appeal_evidence = [e.strip() for e in evidence if e.strip()]
    _record(session, outbox, feed, row, "evaluation.appealed", f"差评申诉：{reason.strip()}", officer_id)
    return row


def decide_appeal(session: Session, outbox: Outbox, feed: Feed, evaluation_id: str, *, supervisor_id: str,
                  annul: bool, note: str) -> EvaluationRow:
    _required(note=(note, "必须说明处理意见"))
    row = _load(session, evaluation_id)
    if row.state != S.EVALUATION_STATE_APPEALED:
        raise FailedPrecondition("该评价没有待处理的申诉", violations=[("NO_APPEAL", evaluation_id, str(row.state))])
    row.state = S.EVALUATION_STATE_ANNULLED if annul else S.EVALUATION_STATE_RECTIFYING
    row.decision_note = note.strip()
    _record(session, outbox, feed, row, "evaluation.annulled" if annul else "evaluation.appeal_refused",
            ("差评申诉成立，该评价不计入" if annul else "差评申诉不成立，继续整改") + f"：{note.strip()}", supervisor_id)
    return row


def _record(session: Session, outbox: Outbox, feed: Feed, row: EvaluationRow, operation: str, text: str,
            actor_id: str) -> None:
    records.record(session, outbox, f"evaluation/{row.evaluation_id}/{operation}/{clock.now().isoformat()}",
                   operation, case_id=row.case_id, actor_id=actor_id, outcome=WORDS[row.level], detail=text,
                   department=row.department)
    feed.add(FeedKind.FEED_KIND_EVALUATION, text, case_id=row.case_id, department=row.department,
             ref_id=row.evaluation_id)


def listed(session: Session, *, case_id: str = "", department: str | None = None, state: int = 0,
           limit: int = 100) -> list[EvaluationRow]:
    query = select(EvaluationRow)
    if case_id:
        query = query.where(EvaluationRow.case_id == case_id)
    if department is not None:
        query = query.where(EvaluationRow.department == department)
    if state:
        query = query.where(EvaluationRow.state == state)
    return list(session.scalars(query.order_by(EvaluationRow.at.desc()).limit(limit)))


def view(row: EvaluationRow, *, show_evaluator: bool) -> ipb.Evaluation:
    e = ipb.Evaluation(evaluation_id=row.evaluation_id, case_id=row.case_id, visit_id=row.visit_id,
                       level=row.level, channel=row.channel, comment=row.comment,  # type: ignore[arg-type]
                       clerk_id=row.clerk_id, department=row.department, state=row.state,  # type: ignore[arg-type]
                       appeal_reason=row.appeal_reason, decision_note=row.decision_note,
                       evaluator=row.evaluator if show_evaluator else "")
    e.at.CopyFrom(clock.to_timestamp(row.at))
    r = e.rectification
    for field, value in (("due_at", row.due_at), ("called_back_at", row.called_back_at), ("done_at", row.done_at)):
        if value is not None:
            getattr(r, field).CopyFrom(clock.to_timestamp(value))
    r.called_back_by, r.callback_note, r.done_by, r.done_note = (row.called_back_by, row.callback_note, row.done_by,
                                                                 row.done_note)
    return e
