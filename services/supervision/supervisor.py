"""Supervision's work: it learns each case from the events, keeps the clocks and raises cards.

- The router's CaseStatusChanged events (each a whole snapshot of the case, numbered) tell it the
  case's acceptance, each step's first dispatch and end, and the case's end; an older or repeated
  event changes nothing.
- The desks' SpecialProcedureChanged events tell it the procedures; the catalogue says which
  pause the clock, and the applicant gets a notice of each that does.
- After each batch of events, and every SUPERVISION_SWEEP_SECONDS for the open cases, each clock
  is read (services/supervision/ledger.py) and the cards it has earned are raised
  (services/supervision/ladder.py, cards.py): exactly once, whichever replica gets there first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import approval_pb2, common_pb2
from hall.v1.inspection_pb2 import FeedKind
from services.catalogue import Catalogue
from services.domain import masking
from services.runtime import clock, context, metrics
from services.runtime.outbox import Outbox
from services.runtime.wire import Envelope
from services.supervision import cards, limits, notices, overdue, texts
from services.supervision.feed import Feed
from services.supervision.ladder import Level, Prewarning, earned
from services.supervision.ledger import Clock, Ledger, Procedure, read
from services.supervision.models import CardRow, CaseRow, ExtensionRow, ProcedureRow, StepRow

log = structlog.get_logger(__name__)

CS = approval_pb2
ENDED_CASE = {CS.CASE_STATUS_COMPLETED, CS.CASE_STATUS_REFUSED, CS.CASE_STATUS_WITHDRAWN}
SWEEP_PAGE = 200


@dataclass(frozen=True)
class CaseClocks:
    """A case's clocks as of a moment: the case's own, and each started step's."""

    case: CaseRow
    steps: list[StepRow]
    ledger: Ledger
    step_ledgers: dict[str, Ledger]
    late: set[str]  # "" (the case) and step ids with an extension asked too late


class Supervisor:
    def __init__(self, sessions: sessionmaker[Session], versions: dict[str, Catalogue], current: Catalogue,
                 outbox: Outbox, prewarning: Prewarning) -> None:
        self._sessions = sessions
        self._versions = versions
        self._current = current
        self.outbox = outbox
        self.prewarning = prewarning

    @property
    def current(self) -> Catalogue:
        return self._current

    def catalogue(self, version: str) -> Catalogue:
        found = self._versions.get(version or self._current.version)
        if found is None:
            # Accepted under a catalogue this process does not have (yet): retried, then parked.
            raise LookupError(f"catalogue version {version} unknown to supervision")
        return found

    # ---- events ------------------------------------------------------------------------------
    def handle_batch(self, envelopes: list[Envelope]) -> None:
        """Apply a batch of events in one transaction: the batch's cases and their steps are read
        (and locked, in case id order: replicas never deadlock) in two statements, then each
        touched case's clocks are read once."""
        with self._sessions() as session, session.begin():
            ids = sorted({e.case_id or getattr(e.message, "case_id", "") for e in envelopes} - {""})
            batch = _Batch(session, ids)
            feed = Feed(session)
            touched: list[str] = []
            for envelope in envelopes:
                msg = envelope.message
                with context.scope(case_id=envelope.case_id, actor_id=envelope.actor_id):
                    if isinstance(msg, approval_pb2.CaseStatusChanged):
                        if self._status(session, feed, batch, msg):
                            touched.append(msg.case_id)
                    elif isinstance(msg, approval_pb2.SpecialProcedureChanged):
                        if self._procedure(session, feed, msg):
                            touched.append(msg.case_id)
                    else:
                        log.info("supervision ignores message type", type=envelope.type)
            session.flush()
            now = clock.now()
            touched = list(dict.fromkeys(touched))
            facts = Facts.load(session, touched)
            for case_id in touched:
                case = batch.cases.get(case_id) or session.get(CaseRow, case_id)
                if case is not None:
                    self._evaluate_case(session, feed, case, batch.steps.get(case_id, []), facts, now)
            feed.flush()

    def _status(self, session: Session, feed: Feed, batch: _Batch, msg: approval_pb2.CaseStatusChanged) -> bool:
        case = batch.cases.get(msg.case_id)
        at = clock.from_timestamp(msg.at)
        matter = msg.bundle_code or msg.matter_code
        departments = [st.department for st in msg.steps]
        if case is None:
            catalogue = self.catalogue(msg.catalogue_version)  # known, or retried
            accepted = clock.from_timestamp(msg.accepted_at) if msg.HasField("accepted_at") else at
            case = CaseRow(case_id=msg.case_id, application_id=msg.application_id, matter_code=msg.matter_code,
                           bundle_code=msg.bundle_code, catalogue_version=msg.catalogue_version,
                           accepted_at=accepted, status=msg.status, ended_at=None, last_seq=0, clerk_id=msg.clerk_id,
                           first_inquiry_clerk_id=msg.first_inquiry_clerk_id or msg.clerk_id, ticket_id=msg.ticket_id,
                           applicant_kind=msg.applicant_kind,
                           applicant_name_masked=masking.name(msg.applicant_kind, msg.applicant_name),
                           applicant_id_masked=msg.applicant_id_masked, results={})
            session.add(case)
            batch.cases[msg.case_id] = case
            feed.add(FeedKind.FEED_KIND_ACCEPTED,
                     f"受理 {texts.matter_name(catalogue, case)}（{case.applicant_name_masked}，窗口 {msg.clerk_id}"
                     + (f"，{msg.ticket_number} 号，首问负责 {msg.first_inquiry_clerk_id}" if msg.ticket_number else "") + "）",
                     case_id=case.case_id, departments=departments, matter_code=matter, at=accepted)
        elif msg.sequence <= case.last_seq:
            return False  # older than what is known, or a repeat
        awaiting, was_awaiting = msg.status == CS.CASE_STATUS_AWAITING_PAYMENT, case.status == CS.CASE_STATUS_AWAITING_PAYMENT
        case.status, case.last_seq = msg.status, msg.sequence
        case.results = dict(msg.results)
        ended_now = msg.status in ENDED_CASE and case.ended_at is None
        if ended_now:
            case.ended_at = at
        rows = batch.steps.setdefault(msg.case_id, [])
        known = {s.step_id: s for s in rows}
        for position, st in enumerate(msg.steps):
            row = known.get(st.step_id)
            if row is None:
                row = StepRow(case_id=msg.case_id, step_id=st.step_id, position=position, department=st.department,
                              matter_code=st.matter_code, status=st.status, started_at=None, ended_at=None,
                              refused_without_reason=False)
                session.add(row)
                rows.append(row)
            row.status = st.status
            if st.HasField("started_at") and row.started_at is None:
                row.started_at = clock.from_timestamp(st.started_at)
                feed.add(FeedKind.FEED_KIND_STEP_STARTED, f"{texts.department_name(self._current, st.department)}"
                         f"开始办理（{st.step_id}）", case_id=msg.case_id, step_id=st.step_id,
                         department=st.department, matter_code=matter, at=row.started_at)
            if st.HasField("ended_at"):
                if row.ended_at is None:
                    feed.add(FeedKind.FEED_KIND_STEP_ENDED, f"{texts.department_name(self._current, st.department)}"
                             f"{texts.STEP_OUTCOME.get(st.status, '办结')}（{st.step_id}）", case_id=msg.case_id,
                             step_id=st.step_id, department=st.department, matter_code=matter,
                             at=clock.from_timestamp(st.ended_at))
                row.ended_at = clock.from_timestamp(st.ended_at)
            row.officer_id = st.officer_id
            row.results = dict(st.results)
            row.reasons = [r.message for r in st.reasons if r.message]
            row.refused_without_reason = (st.status == common_pb2.STEP_STATUS_REFUSED
                                          and not any(r.message.strip() for r in st.reasons))
        rows.sort(key=lambda r: r.position)
        if awaiting != was_awaiting:  # the applicant's turn at the window, and its end
            feed.add(FeedKind.FEED_KIND_PAYMENT, "待缴费：审批已完成，缴费后出件" if awaiting and all(
                            st.status == common_pb2.STEP_STATUS_APPROVED for st in msg.steps)
                     else "待缴费：缴费后分送各部门" if awaiting else "已缴费", case_id=case.case_id,
                     departments=departments, matter_code=matter, at=at)
        if ended_now:  # after its steps' entries: the feed reads in the order things happened
            feed.add(FeedKind.FEED_KIND_COMPLETED, f"办结：{texts.CASE_OUTCOME.get(msg.status, '')}"
                     + (f"（{'；'.join(r.message for r in msg.reasons if r.message)}）" if msg.reasons else ""),
                     case_id=case.case_id, departments=departments, matter_code=matter, at=at)
        return True

    def _procedure(self, session: Session, feed: Feed, msg: approval_pb2.SpecialProcedureChanged) -> bool:
        row = session.get(ProcedureRow, msg.procedure_id, with_for_update=True)
        at = clock.from_timestamp(msg.at)
        if msg.phase == approval_pb2.PROCEDURE_PHASE_STARTED:
            if row is not None:
                return False
            case = session.get(CaseRow, msg.case_id)
            catalogue = self.catalogue(case.catalogue_version if case is not None else "")
            spec = limits.procedure(catalogue, msg.matter_code, msg.kind)
            counts = spec is None or spec.counts_toward_limit
            session.add(ProcedureRow(procedure_id=msg.procedure_id, case_id=msg.case_id, step_id=msg.step_id,
                                     department=msg.department, kind=msg.kind, reason=msg.detail, result="",
                                     counts=counts, started_by=msg.officer_id, ended_by="", started_at=at,
                                     ended_at=None))
            if not counts and spec is not None:
                notices.special_procedure(session, self.outbox, msg, spec, catalogue)
            feed.add(FeedKind.FEED_KIND_PROCEDURE_STARTED,
                     f"{texts.department_name(self._current, msg.department)}启动{msg.kind}"
                     + ("（不计入办理时限）" if not counts else "") + f"：{msg.detail}", case_id=msg.case_id,
                     step_id=msg.step_id, department=msg.department, matter_code=msg.matter_code,
                     ref_id=msg.procedure_id, at=at)
            log.info("special procedure started", kind=msg.kind, pauses=not counts, step_id=msg.step_id)
            return True
        if msg.phase == approval_pb2.PROCEDURE_PHASE_ENDED:
            if row is None:
                raise LookupError(f"end of procedure {msg.procedure_id} before its start")  # retried
            if row.ended_at is not None:
                return False
            row.ended_at, row.ended_by, row.result = at, msg.officer_id, msg.detail
            feed.add(FeedKind.FEED_KIND_PROCEDURE_ENDED,
                     f"{texts.department_name(self._current, row.department)}{row.kind}结束：{msg.detail}",
                     case_id=row.case_id, step_id=row.step_id, department=row.department,
                     matter_code=msg.matter_code, ref_id=row.procedure_id, at=at)
            log.info("special procedure ended", kind=row.kind, step_id=row.step_id)
            return True
        return False

    # ---- clocks and cards --------------------------------------------------------------------
    def clocks(self, session: Session, case: CaseRow, now: dt.datetime) -> CaseClocks:
        steps = steps_of(session, [case.case_id]).get(case.case_id, [])
        return self.clocks_from(case, steps, Facts.load(session, [case.case_id]), now)

    def clocks_from(self, case: CaseRow, steps: list[StepRow], facts: Facts, now: dt.datetime) -> CaseClocks:
        catalogue = self.catalogue(case.catalogue_version)
        procs = facts.procedures.get(case.case_id, [])
        exts = facts.extensions.get(case.case_id, [])
        granted = [e for e in exts if e.state == "approved"]
        case_limits = limits.of_case(catalogue, matter_code=case.matter_code, bundle_code=case.bundle_code)
        case_clock = Clock(case.accepted_at, case_limits.promised, case_limits.statutory,
                           extension=sum(e.amount for e in granted),
                           procedures=tuple(_procedure(p) for p in procs), ended=case.ended_at)
        step_ledgers = {}
        for s in steps:
            if s.started_at is None:
                continue
            own = limits.of_step(catalogue, bundle_code=case.bundle_code, step_id=s.step_id, matter_code=s.matter_code)
            step_clock = Clock(s.started_at, own.promised, own.statutory,
                               extension=sum(e.amount for e in granted if e.step_id == s.step_id),
                               procedures=tuple(_procedure(p) for p in procs if p.step_id == s.step_id),
                               ended=s.ended_at if s.ended_at is not None else (
                                   case.ended_at if s.status not in _RUNNING else None))
            step_ledgers[s.step_id] = read(step_clock, now)
        late = {e.step_id for e in exts if e.state == "late"} | ({""} if any(e.state == "late" for e in exts) else set())
        return CaseClocks(case, steps, read(case_clock, now), step_ledgers, late)

    def evaluate_in(self, session: Session, feed: Feed, case_id: str, now: dt.datetime) -> int:
        """Read one case's clocks and raise what they earned, in the caller's transaction."""
        case = session.get(CaseRow, case_id)
        if case is None:
            return 0
        steps = steps_of(session, [case_id]).get(case_id, [])
        return self._evaluate_case(session, feed, case, steps, Facts.load(session, [case_id]), now)

    def _evaluate_case(self, session: Session, feed: Feed, case: CaseRow, steps: list[StepRow], facts: Facts,
                       now: dt.datetime) -> int:
        c = self.clocks_from(case, steps, facts, now)
        raised = 0
        for r in earned(c.ledger, self.prewarning, step=False, late_extension="" in c.late):
            raised += cards.raise_once(session, self.outbox, feed, case, "", "", r, now)
        by_id = {s.step_id: s for s in c.steps}
        for step_id, ledger in c.step_ledgers.items():
            step = by_id[step_id]
            for r in earned(ledger, self.prewarning, step=True, late_extension=step_id in c.late,
                            refused_without_reason=step.refused_without_reason):
                raised += cards.raise_once(session, self.outbox, feed, case, step_id, step.department, r, now)
        return raised

    def sweep(self, now: dt.datetime | None = None) -> int:
        """Read every open case's clocks and raise what they have earned; the cards raised."""
        now = now or clock.now()
        raised, after = 0, ""
        while True:
            with self._sessions() as session, session.begin():
                page = list(session.scalars(
                    select(CaseRow).where(CaseRow.status == CS.CASE_STATUS_IN_PROGRESS, CaseRow.case_id > after)
                    .order_by(CaseRow.case_id).limit(SWEEP_PAGE)))
                ids = [c.case_id for c in page]
                steps = steps_of(session, ids)
                facts = Facts.load(session, ids)
                feed = Feed(session)
                for case in page:
                    raised += self._evaluate_case(session, feed, case, steps.get(case.case_id, []), facts, now)
                feed.flush()
            if len(ids) < SWEEP_PAGE:
                break
            after = ids[-1]
        with self._sessions() as session, session.begin():
            feed = Feed(session)
            raised += overdue.sweep(session, self.outbox, feed, now)
            feed.flush()
        if raised:
            log.warning("cards raised by the sweep", count=raised)
        self._count_open_cards()
        return raised

    def _count_open_cards(self) -> None:
        with self._sessions() as session:
            counts = dict(session.execute(select(CardRow.level, func.count()).where(CardRow.state != cards.WITHDRAWN)
                                          .group_by(CardRow.level)).tuples().all())
        for level in Level:
            metrics.OPEN_CARDS.labels(level.value).set(counts.get(level.value, 0))


_RUNNING = {common_pb2.STEP_STATUS_DISPATCHED, common_pb2.STEP_STATUS_INCIDENT, common_pb2.STEP_STATUS_PENDING}


def steps_of(session: Session, ids: list[str]) -> dict[str, list[StepRow]]:
    out: dict[str, list[StepRow]] = {}
    if ids:
        for row in session.scalars(select(StepRow).where(StepRow.case_id.in_(ids))
                                   .order_by(StepRow.case_id, StepRow.position)):
            out.setdefault(row.case_id, []).append(row)
    return out


class _Batch:
    """The cases of a batch of events, locked, and their steps: read in two statements."""

    def __init__(self, session: Session, ids: list[str]) -> None:
        self.cases: dict[str, CaseRow] = {}
        if ids:
            self.cases = {c.case_id: c for c in session.scalars(
                select(CaseRow).where(CaseRow.case_id.in_(ids)).order_by(CaseRow.case_id).with_for_update())}
        self.steps = steps_of(session, list(self.cases))


@dataclass
class Facts:
    """The special procedures and extensions of some cases (rare: most cases have none)."""

    procedures: dict[str, list[ProcedureRow]]
    extensions: dict[str, list[ExtensionRow]]

    @classmethod
    def load(cls, session: Session, ids: list[str]) -> Facts:
        procedures: dict[str, list[ProcedureRow]] = {}
        extensions: dict[str, list[ExtensionRow]] = {}
        if ids:
            for p in session.scalars(select(ProcedureRow).where(ProcedureRow.case_id.in_(ids))):
                procedures.setdefault(p.case_id, []).append(p)
            for e in session.scalars(select(ExtensionRow).where(ExtensionRow.case_id.in_(ids))
                                     .order_by(ExtensionRow.requested_at)):
                extensions.setdefault(e.case_id, []).append(e)
        return cls(procedures, extensions)


def _procedure(p: ProcedureRow) -> Procedure:
    return Procedure(p.kind, p.reason, p.started_at, p.ended_at, p.counts)
