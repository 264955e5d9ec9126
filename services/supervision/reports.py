"""Efficiency reports for a period (Shanghai dates, inclusive), as of the end of its last day, so
a past period's figures do not move when later days are recorded:

- accepted: cases accepted in the period; completed: cases completed (准予办理) in it;
- 现场办结率: of the immediate matters (即办件: promised limit 0) accepted in the period, those
  completed the day they were accepted;
- 按时办结率: of the cases completed in the period, those completed by their promised due date
  (pauses and extensions as recorded by the period's end);
- working days from acceptance to completion (the law's count): mean and p90 (nearest rank);
- cards open at the period's end (raised before it ended, not withdrawn before it ended);
  extensions asked, evaluations recorded and complaints filed in the period; 满意率: 非常满意,
  满意 and 基本满意 among those evaluations (one annulled on appeal does not count).
A department's figures count its steps (started, completed, on time against the step's own
limit); a clerk's and a matter's count the cases. Each rate is against SUPERVISION_TARGET_*.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from hall.v1 import approval_pb2, common_pb2
from hall.v1 import inspection_pb2 as ipb
from services.runtime import clock
from services.runtime.errors import InvalidArgument
from services.supervision import evaluations, texts
from services.supervision.ledger import Ledger, elapsed_working_days
from services.supervision.models import CardEventRow, CardRow, CaseRow, ComplaintRow, EvaluationRow, ExtensionRow
from services.supervision.supervisor import Facts, Supervisor, steps_of

G = ipb.ReportGrouping


@dataclass(frozen=True)
class Targets:
    on_site_bp: int = 9000
    on_time_bp: int = 9900
    satisfaction_bp: int = 9500


@dataclass
class _Tally:
    accepted: int = 0
    completed: int = 0
    immediate: int = 0
    on_site: int = 0
    on_time: int = 0
    days: list[int] = field(default_factory=list)
    cards: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    extensions: int = 0
    evaluations: int = 0
    good: int = 0
    complaints: int = 0


def period(from_date: str, to_date: str) -> tuple[dt.datetime, dt.datetime]:
    try:
        first, last = dt.date.fromisoformat(from_date), dt.date.fromisoformat(to_date)
    except ValueError:
        raise InvalidArgument("dates are YYYY-MM-DD", violations=[("from_date", "日期格式为 YYYY-MM-DD"),
                                                                   ("to_date", "日期格式为 YYYY-MM-DD")]) from None
    if last < first:
        raise InvalidArgument("the period ends before it starts", violations=[("to_date", "结束日期不能早于开始日期")])
    start = dt.datetime.combine(first, dt.time(0), tzinfo=clock.SHANGHAI)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=clock.SHANGHAI)
    return start, end


def _rate(numerator: int, denominator: int, target: int) -> ipb.Rate:
    if not denominator:
        return ipb.Rate(defined=False, target_basis_points=target)
    bp = round(numerator * 10000 / denominator)
    return ipb.Rate(basis_points=bp, numerator=numerator, denominator=denominator, defined=True,
                    target_basis_points=target, meets_target=bp >= target)


def _p90(days: list[int]) -> int:
    if not days:
        return 0
    ordered = sorted(days)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _row(key: str, name: str, t: _Tally, targets: Targets) -> ipb.ReportRow:
    return ipb.ReportRow(
        key=key, name=name, accepted=t.accepted, completed=t.completed,
        on_site=_rate(t.on_site, t.immediate, targets.on_site_bp),
        on_time=_rate(t.on_time, t.completed, targets.on_time_bp),
        average_working_days_x100=round(sum(t.days) * 100 / len(t.days)) if t.days else 0,
        p90_working_days=_p90(t.days), open_pre_warnings=t.cards["pre_warning"], open_yellow_cards=t.cards["yellow"],
        open_red_cards=t.cards["red"], extensions=t.extensions, evaluations=t.evaluations,
        satisfaction=_rate(t.good, t.evaluations, targets.satisfaction_bp), complaints=t.complaints)


def _count(t: _Tally, ledger: Ledger, started: dt.datetime, accepted_in_period: bool, ended_at: dt.datetime | None,
           ended: dt.datetime | None, completed: bool) -> None:
    """`ended`: the end if it falls in the period; `ended_at`: whenever it is (an immediate matter
    accepted in the period counts as done on the spot only if it ended that same day)."""
    immediate = ledger.clock.promised.amount == 0
    if accepted_in_period:
        t.accepted += 1
        t.immediate += immediate
        t.on_site += (immediate and ended_at is not None and ended is not None and completed
                      and clock.local(ended_at).date() == clock.local(started).date())
    if not completed or ended is None:
        return
    t.completed += 1
    t.on_time += ended <= ledger.promised.at
    t.days.append(elapsed_working_days(started, ended))


def report(session: Session, sup: Supervisor, req: ipb.GetReportRequest, targets: Targets) -> ipb.GetReportResponse:
    start, end = period(req.from_date, req.to_date)
    as_of = min(end, clock.now())

    def within(value: dt.datetime | None) -> bool:
        return value is not None and start <= value < end

    cards_ = [c for c in session.scalars(select(CardRow).where(CardRow.raised_at < end))]
    withdrawn = set(session.scalars(select(CardEventRow.card_id).where(CardEventRow.action == "withdrawn",
                                                                       CardEventRow.at < end)))
    open_cards = [c for c in cards_ if c.card_id not in withdrawn]
    exts = [e for e in session.scalars(select(ExtensionRow).where(ExtensionRow.requested_at >= start,
                                                                  ExtensionRow.requested_at < end))]
    evals = [e for e in session.scalars(select(EvaluationRow).where(EvaluationRow.at >= start, EvaluationRow.at < end))
             if e.state != ipb.EVALUATION_STATE_ANNULLED]
    comps = list(session.scalars(select(ComplaintRow).where(ComplaintRow.filed_at >= start, ComplaintRow.filed_at < end)))
    cases = {c.case_id: c for c in session.scalars(select(CaseRow).where(
        or_(and_(CaseRow.accepted_at >= start, CaseRow.accepted_at < end),
            and_(CaseRow.ended_at >= start, CaseRow.ended_at < end))))}
    referred = [*(c.case_id for c in open_cards), *(e.case_id for e in exts), *(e.case_id for e in evals),
                *(c.case_id for c in comps)]
    others = {x for x in referred if x} - set(cases)
    for i in range(0, len(others), 1000):
        chunk = sorted(others)[i:i + 1000]
        cases.update({c.case_id: c for c in session.scalars(select(CaseRow).where(CaseRow.case_id.in_(chunk)))})
    ids = sorted(cases)
    steps = steps_of(session, ids)
    facts = Facts.load(session, ids)
    groups: dict[str, _Tally] = defaultdict(_Tally)
    hall = _Tally()

    def keys_of(case: CaseRow | None, department: str) -> list[str]:
        if req.grouping == G.REPORT_GROUPING_DEPARTMENT:
            return [department] if department else []
        if case is None:
            return []
        if req.grouping == G.REPORT_GROUPING_CLERK:
            return [case.clerk_id]
        if req.grouping == G.REPORT_GROUPING_MATTER:
            return [case.bundle_code or case.matter_code]
        return []

    def tallies(case: CaseRow | None, department: str) -> list[_Tally]:
        return [hall, *(groups[k] for k in keys_of(case, department))]

    for case in cases.values():
        # Facts recorded after the period's end are not known as of it.
        known = [s for s in steps.get(case.case_id, []) if s.started_at is not None and s.started_at < end]
        c = sup.clocks_from(case, known, facts, as_of)
        ended = case.ended_at if within(case.ended_at) else None
        done = ended is not None and case.status == approval_pb2.CASE_STATUS_COMPLETED
        for t in [hall, *(groups[k] for k in keys_of(case, "") if req.grouping != G.REPORT_GROUPING_DEPARTMENT)]:
            _count(t, c.ledger, case.accepted_at, within(case.accepted_at), case.ended_at, ended, done)
        if req.grouping == G.REPORT_GROUPING_DEPARTMENT:
            for s in known:
                assert s.started_at is not None
                step_end = s.ended_at if within(s.ended_at) else None
                step_done = step_end is not None and s.status in (common_pb2.STEP_STATUS_APPROVED,
                                                                  common_pb2.STEP_STATUS_REFUSED)
                _count(groups[s.department], c.step_ledgers[s.step_id], s.started_at, within(s.started_at),
                       s.ended_at, step_end, step_done)
    for card in open_cards:
        for t in tallies(cases.get(card.case_id), card.department):
            t.cards[card.level] += 1
    for ext in exts:
        for t in tallies(cases.get(ext.case_id), ext.department):
            t.extensions += 1
    for ev in evals:
        for t in tallies(cases.get(ev.case_id), ev.department):
            t.evaluations += 1
            t.good += ev.level in evaluations.GOOD
    for co in comps:
        for t in tallies(cases.get(co.case_id), co.department):
            t.complaints += 1

    def name(key: str) -> str:
        if req.grouping == G.REPORT_GROUPING_DEPARTMENT:
            return texts.department_name(sup.current, key)
        if req.grouping == G.REPORT_GROUPING_MATTER:
            return (sup.current.bundles[key].name if key in sup.current.bundles
                    else sup.current.matters[key].name if key in sup.current.matters else key)
        return key

    return ipb.GetReportResponse(from_date=req.from_date, to_date=req.to_date, grouping=req.grouping,
                                 rows=[_row(k, name(k), groups[k], targets) for k in sorted(groups)],
                                 hall=_row("", "政务服务中心", hall, targets))
