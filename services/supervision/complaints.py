"""Complaints: against a case, a department or a clerk; routed to the department that answers for
it (a case handled by one department: that one; several, or a clerk at the window: the hall);
due in 10 working days; answered; the complainant's response to the answer recorded. An overdue
one raises a card like a case does (services/supervision/overdue.py). The complainant's contact is
never shown to the department."""

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
from services.supervision.models import CaseRow, ComplaintRow, EvaluationRow, StepRow

T, S = ipb.ComplaintTarget, ipb.ComplaintState
DUE_DAYS = 10
TARGET_WORDS = {T.COMPLAINT_TARGET_CASE: "案件", T.COMPLAINT_TARGET_DEPARTMENT: "部门", T.COMPLAINT_TARGET_CLERK: "窗口人员"}


def file(session: Session, outbox: Outbox, feed: Feed, req: ipb.FileComplaintRequest,
         departments: dict[str, str]) -> tuple[ComplaintRow, bool]:
    """`departments`: the hall's departments, code to name."""
    problems = []
    if not req.request_id:
        problems.append(("request_id", "必须提供请求编号（重复提交以此识别）"))
    if req.target not in TARGET_WORDS:
        problems.append(("target", "投诉对象须为案件、部门或窗口人员"))
    if req.target == T.COMPLAINT_TARGET_CASE and not req.case_id:
        problems.append(("case_id", "投诉案件须提供案件编号"))
    if req.target == T.COMPLAINT_TARGET_DEPARTMENT and req.department not in departments:
        problems.append(("department", "投诉部门须为进驻中心的部门"))
    if req.target == T.COMPLAINT_TARGET_CLERK and not req.clerk_id:
        problems.append(("clerk_id", "投诉窗口人员须提供其工号"))
    if not req.text.strip() or len(req.text) > 2000:
        problems.append(("text", "投诉内容必填，不超过2000字"))
    if problems:
        raise InvalidArgument("投诉信息不完整：须有投诉对象和经过", violations=problems)
    found = session.scalar(select(ComplaintRow).where(ComplaintRow.request_id == req.request_id))
    if found is not None:
        return found, True
    case = session.get(CaseRow, req.case_id) if req.case_id else None
    if req.case_id and case is None:
        raise NotFound(f"电子监察尚无案件 {req.case_id}（刚受理的案件请稍候片刻再试）", resource_type="hall.v1.Case",
                       resource_name=req.case_id)
    if req.evaluation_id and session.get(EvaluationRow, req.evaluation_id) is None:
        raise NotFound(f"evaluation {req.evaluation_id} not found", resource_type="hall.v1.Evaluation",
                       resource_name=req.evaluation_id)
    department = req.department if req.target == T.COMPLAINT_TARGET_DEPARTMENT else ""
    if req.target == T.COMPLAINT_TARGET_CASE and case is not None:
        involved = sorted(set(session.scalars(select(StepRow.department).where(StepRow.case_id == case.case_id))))
        department = involved[0] if len(involved) == 1 else ""
    now = clock.now()
    row = ComplaintRow(complaint_id=uuid.uuid4().hex, request_id=req.request_id, target=req.target,
                       case_id=req.case_id, department=department,
                       clerk_id=req.clerk_id or (case.clerk_id if case is not None else ""), text=req.text.strip(),
                       complainant=req.complainant.strip(), state=S.COMPLAINT_STATE_OPEN, filed_at=now,
                       due_at=timelimits.due(now, DUE_DAYS, provisional=True).at, answer="", answered_by="",
                       answered_at=None, satisfied=False, response="", responded_at=None,
                       evaluation_id=req.evaluation_id, ticket_id=req.ticket_id)
    session.add(row)
    session.flush()
    _record(session, outbox, feed, row, "complaint.filed",
            f"收到投诉（{TARGET_WORDS[req.target]}），转{departments.get(department, '中心')}办理，10个工作日内答复", "")
    return row, False


def _load(session: Session, complaint_id: str) -> ComplaintRow:
    if not complaint_id:
        raise InvalidArgument("必须提供投诉编号", violations=[("complaint_id", "必须提供投诉编号")])
    row = session.get(ComplaintRow, complaint_id, with_for_update=True)
    if row is None:
        raise NotFound(f"complaint {complaint_id} not found", resource_type="hall.v1.Complaint",
                       resource_name=complaint_id)
    return row


def answer(session: Session, outbox: Outbox, feed: Feed, complaint_id: str, *, department: str, officer_id: str,
           text: str) -> ComplaintRow:
    missing = [(f, d) for f, v, d in (("officer_id", officer_id, "必须提供答复人编号"),
                                       ("text", text.strip(), "必须填写答复内容")) if not v]
    if missing:
        raise InvalidArgument("答复须有承办人和答复内容", violations=missing)
    row = _load(session, complaint_id)
    if department != row.department:
        raise PermissionDenied(f"complaint {complaint_id} is routed to {row.department or 'the hall'}",
                               reason="NOT_YOUR_COMPLAINT")
    if row.state != S.COMPLAINT_STATE_OPEN:
        raise FailedPrecondition("该投诉已答复", violations=[("ALREADY_ANSWERED", complaint_id, str(row.state))])
    row.state, row.answer, row.answered_by, row.answered_at = (S.COMPLAINT_STATE_ANSWERED, text.strip(), officer_id,
                                                               clock.now())
    late = row.answered_at > row.due_at
    _record(session, outbox, feed, row, "complaint.answered", "投诉已答复" + ("（超过答复期限）" if late else ""),
            officer_id)
    return row


def reply(session: Session, outbox: Outbox, feed: Feed, complaint_id: str, *, satisfied: bool, text: str,
          recorded_by: str) -> ComplaintRow:
    row = _load(session, complaint_id)
    if row.state != S.COMPLAINT_STATE_ANSWERED:
        raise FailedPrecondition("投诉尚未答复，或已记录投诉人意见",
                                 violations=[("NOT_ANSWERED", complaint_id, str(row.state))])
    row.state, row.satisfied, row.response, row.responded_at = (S.COMPLAINT_STATE_CLOSED, satisfied, text.strip(),
                                                                clock.now())
    _record(session, outbox, feed, row, "complaint.replied",
            f"投诉人对答复{'满意' if satisfied else '不满意'}" + (f"：{text.strip()}" if text.strip() else ""), recorded_by)
    return row


def _record(session: Session, outbox: Outbox, feed: Feed, row: ComplaintRow, operation: str, text: str,
            actor_id: str) -> None:
    records.record(session, outbox, f"complaint/{row.complaint_id}/{operation}", operation, case_id=row.case_id,
                   actor_id=actor_id, outcome=str(row.state), detail=text, department=row.department)
    feed.add(FeedKind.FEED_KIND_COMPLAINT, text, case_id=row.case_id, department=row.department,
             ref_id=row.complaint_id)


def listed(session: Session, *, department: str | None = None, state: int = 0, case_id: str = "",
           limit: int = 100) -> list[ComplaintRow]:
    query = select(ComplaintRow)
    if department is not None:
        query = query.where(ComplaintRow.department == department)
    if state:
        query = query.where(ComplaintRow.state == state)
    if case_id:
        query = query.where(ComplaintRow.case_id == case_id)
    return list(session.scalars(query.order_by(ComplaintRow.filed_at.desc()).limit(limit)))


def view(row: ComplaintRow) -> ipb.Complaint:
    c = ipb.Complaint(complaint_id=row.complaint_id, target=row.target, case_id=row.case_id,  # type: ignore[arg-type]
                      department=row.department, clerk_id=row.clerk_id, text=row.text,
                      state=row.state, answer=row.answer, answered_by=row.answered_by,  # type: ignore[arg-type]
                      complainant_satisfied=row.satisfied, complainant_response=row.response,
                      evaluation_id=row.evaluation_id, ticket_id=row.ticket_id)
    for field, value in (("filed_at", row.filed_at), ("due_at", row.due_at), ("answered_at", row.answered_at),
                         ("responded_at", row.responded_at)):
        if value is not None:
            getattr(c, field).CopyFrom(clock.to_timestamp(value))
    return c


def chain(session: Session, *, ticket_id: str = "", case_id: str = "", evaluation_id: str = "",
          complaint_id: str = "") -> ipb.GetChainResponse:
    """Queue ticket → case → evaluation → complaint, from any one of them (a case knows the ticket
    it was accepted with; a complaint or evaluation names the ticket of its visit)."""
    cases, tickets, evals, comps = ({case_id} - {""}, {ticket_id} - {""}, {evaluation_id} - {""},
                                    {complaint_id} - {""})
    for _ in range(4):  # follow the links until nothing new turns up (four hops at most)
        for case in session.scalars(select(CaseRow).where(CaseRow.case_id.in_(cases) | CaseRow.ticket_id.in_(tickets))):
            cases.add(case.case_id)
            tickets.update({case.ticket_id} - {""})
        for c in session.scalars(select(ComplaintRow).where(
                ComplaintRow.complaint_id.in_(comps) | ComplaintRow.case_id.in_(cases)
                | ComplaintRow.evaluation_id.in_(evals) | ComplaintRow.ticket_id.in_(tickets))):
            comps.add(c.complaint_id)
            cases.update({c.case_id} - {""})
            evals.update({c.evaluation_id} - {""})
            tickets.update({c.ticket_id} - {""})
        for e in session.scalars(select(EvaluationRow).where(
                EvaluationRow.evaluation_id.in_(evals) | EvaluationRow.case_id.in_(cases)
                | EvaluationRow.visit_id.in_(tickets))):
            evals.add(e.evaluation_id)
            cases.update({e.case_id} - {""})
            tickets.update({e.visit_id} - {""})
    return ipb.GetChainResponse(ticket_ids=sorted(tickets), case_ids=sorted(cases), evaluation_ids=sorted(evals),
                                complaint_ids=sorted(comps))
