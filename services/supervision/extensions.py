"""Extensions of the statutory limit (行政许可法 第四十二条): the department asks with a reason,
the hall's head decides; an approval moves the case's statutory limit (and the asking step's) by
the law's extension, and the applicant is told. An extension asked after the limit ran out is
recorded as late, is never granted, and the case counts as overdue (视为超时): a red card."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from hall.v1.inspection_pb2 import FeedKind
from services.runtime import clock
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.supervision import limits, notices, records
from services.supervision.feed import Feed
from services.supervision.models import CaseRow, ExtensionRow, StepRow
from services.supervision.supervisor import ENDED_CASE, Supervisor

REQUESTED, APPROVED, REFUSED, LATE = "requested", "approved", "refused", "late"


def request(session: Session, sup: Supervisor, feed: Feed, *, case_id: str, step_id: str, department: str, officer_id: str,
            reason: str) -> ExtensionRow:
    missing = [(f, d) for f, v, d in (("case_id", case_id, "必须提供案件编号"),
                                       ("department", department, "必须提供申请延期的部门"),
                                       ("officer_id", officer_id, "必须提供承办人编号"),
                                       ("reason", reason.strip(), "申请延期必须说明理由")) if not v]
    if missing:
        raise InvalidArgument("an extension needs its case, department, officer and reason", violations=missing)
    case = session.get(CaseRow, case_id, with_for_update=True)
    if case is None:
        raise NotFound(f"case {case_id} not known to supervision", resource_type="hall.v1.Case",
                       resource_name=case_id)
    steps = list(session.scalars(select(StepRow).where(StepRow.case_id == case_id)))
    mine = [s for s in steps if s.department == department and (not step_id or s.step_id == step_id)]
    if not mine:
        raise PermissionDenied(f"{department} handles no step {step_id or ''} of case {case_id}",
                               reason="NOT_YOUR_CASE")
    if step_id == "" and len(mine) == 1:
        step_id = mine[0].step_id  # the department's one step of the case
    if case.status in ENDED_CASE:
        raise FailedPrecondition("案件已办结，无需延期", violations=[("CASE_ENDED", case_id, str(case.status))])
    exts = list(session.scalars(select(ExtensionRow).where(ExtensionRow.case_id == case_id)))
    if any(e.state in (REQUESTED, APPROVED) for e in exts):
        raise FailedPrecondition("本案已申请或已批准延期，法定期限只能延长一次",
                                 violations=[("EXTENSION_EXISTS", case_id, "")])
    now = clock.now()
    ledger = sup.clocks(session, case, now).ledger
    case_limits = limits.of_case(sup.catalogue(case.catalogue_version), matter_code=case.matter_code,
                                 bundle_code=case.bundle_code)
    row = ExtensionRow(extension_id=uuid.uuid4().hex, case_id=case_id, step_id=step_id, department=department,
                       reason=reason.strip(), requested_by=officer_id, requested_at=now,
                       state=LATE if ledger.statutory_passed else REQUESTED, amount=case_limits.extension,
                       decided_by="", decided_at=None, decision_note="")
    session.add(row)
    records.record(session, sup.outbox, f"extension/{row.extension_id}/{row.state}", f"extension.{row.state}",
                   case_id=case_id, actor_id=officer_id, outcome=row.state, detail=row.reason, step_id=step_id,
                   department=department)
    feed.add(FeedKind.FEED_KIND_EXTENSION, f"申请延期（{department}）：{row.reason}"
             + ("；法定期限届满后才申请，视为超时" if row.state == LATE else ""), case_id=case_id, step_id=step_id,
             department=department, ref_id=row.extension_id, at=now)
    session.flush()
    if row.state == LATE:
        sup.evaluate_in(session, feed, case_id, now)  # the red card, now
    return row


def decide(session: Session, sup: Supervisor, feed: Feed, *, extension_id: str, head_id: str, approve: bool,
           note: str) -> ExtensionRow:
    if not extension_id:
        raise InvalidArgument("extension_id is required", violations=[("extension_id", "必须提供延期申请编号")])
    row = session.get(ExtensionRow, extension_id, with_for_update=True)
    if row is None:
        raise NotFound(f"extension {extension_id} not found", resource_type="hall.v1.Extension",
                       resource_name=extension_id)
    if row.state != REQUESTED:
        raise FailedPrecondition("该延期申请不在待批状态", violations=[("NOT_REQUESTED", extension_id, row.state)])
    if not approve and not note.strip():
        raise InvalidArgument("a refusal states its grounds", violations=[("note", "不予批准必须说明理由")])
    now = clock.now()
    row.state, row.decided_by, row.decided_at, row.decision_note = (APPROVED if approve else REFUSED, head_id, now,
                                                                     note.strip())
    records.record(session, sup.outbox, f"extension/{row.extension_id}/{row.state}", f"extension.{row.state}",
                   case_id=row.case_id, actor_id=head_id, outcome=row.state, detail=note, step_id=row.step_id,
                   department=row.department)
    feed.add(FeedKind.FEED_KIND_EXTENSION, f"延期申请{'已批准' if approve else '不予批准'}"
             + (f"：{row.decision_note}" if row.decision_note else ""), case_id=row.case_id, step_id=row.step_id,
             department=row.department, ref_id=row.extension_id, at=now)
    session.flush()
    if approve:
        case = session.get(CaseRow, row.case_id)
        assert case is not None
        ledger = sup.clocks(session, case, now).ledger
        notices.extension(session, sup.outbox, extension_id=row.extension_id, case_id=row.case_id,
                          step_id=row.step_id, department=row.department, amount=row.amount, reason=row.reason,
                          statutory_due=ledger.statutory.day, at=now)
    return row
