"""Applications: accept (idempotent), read, withdraw, and follow the router's status events."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

import grpc
import structlog
from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import approval_pb2, common_pb2, intake_pb2
from services.catalogue import Catalogue, limit_unit, pricing
from services.domain import timelimits
from services.domain.calendar import OfficialCalendar, official
from services.intake.changes import Changes, announce
from services.intake.models import ApplicationEventRow, ApplicationRow, IntakeOutbox, stored_step_status
from services.intake.notices import Notices
from services.intake.queue import Queue
from services.intake.validation import check_submission
from services.runtime import clock, context, db, topology
from services.runtime.errors import FailedPrecondition, IncompleteApplication, NotFound, ServiceError
from services.runtime.outbox import Outbox

log = structlog.get_logger(__name__)

S = intake_pb2.ApplicationStatus
TERMINAL = {S.APPLICATION_STATUS_COMPLETED, S.APPLICATION_STATUS_REFUSED, S.APPLICATION_STATUS_WITHDRAWN}
_FROM_CASE = {
    approval_pb2.CASE_STATUS_IN_PROGRESS: S.APPLICATION_STATUS_IN_PROGRESS,
    approval_pb2.CASE_STATUS_COMPLETED: S.APPLICATION_STATUS_COMPLETED,
    approval_pb2.CASE_STATUS_REFUSED: S.APPLICATION_STATUS_REFUSED,
    approval_pb2.CASE_STATUS_WITHDRAWN: S.APPLICATION_STATUS_WITHDRAWN,
    approval_pb2.CASE_STATUS_AWAITING_PAYMENT: S.APPLICATION_STATUS_AWAITING_PAYMENT,
}


# Prebuilt statements of the hot paths (submit, status events): no per-call construction.
_APPS: Table = ApplicationRow.__table__  # type: ignore[assignment]
_EVENTS: Table = ApplicationEventRow.__table__  # type: ignore[assignment]
_INSERT_APP = insert(_APPS)
_INSERT_EVENTS = insert(_EVENTS).inline()  # no new ids back: it can travel in a pipeline
_LOCK_BY_CASE = (select(_APPS.c.application_id, _APPS.c.case_id, _APPS.c.last_sequence)
                 .where(_APPS.c.case_id.in_(bindparam("ids", expanding=True)))
                 .order_by(_APPS.c.case_id).with_for_update())
# An event already recorded (a redelivery) is skipped by the unique (application, sequence) key:
# no read of the known events, and the INSERT needs nothing back, so it can join a pipeline.
_RECORD_EVENTS = db.per_dialect(lambda dialect_insert: dialect_insert(_EVENTS).inline()
                                .on_conflict_do_nothing(index_elements=["application_id", "sequence"]))
_UPDATE_STATUS = (update(_APPS).where(_APPS.c.application_id == bindparam("k_application_id"))
                  .values(last_sequence=bindparam("v_last_sequence", type_=_APPS.c.last_sequence.type),
                          status=bindparam("v_status", type_=_APPS.c.status.type),
                          updated_at=bindparam("v_updated_at", type_=_APPS.c.updated_at.type),
                          snapshot=bindparam("v_snapshot", type_=_APPS.c.snapshot.type)))


_ATTACH_TICKET = Queue.attach_statement()


class RequestIdReused(ServiceError):
    def __init__(self, request_id: str) -> None:
        super().__init__(f"请求编号 {request_id} 已用于另一份申请，请换一个请求编号",
                         grpc.StatusCode.ALREADY_EXISTS)


def fingerprint(req: intake_pb2.SubmitApplicationRequest) -> str:
    clone = intake_pb2.SubmitApplicationRequest()
    clone.CopyFrom(req)
    clone.ClearField("request_id")
    return hashlib.sha256(clone.SerializeToString(deterministic=True)).hexdigest()


class Applications:
    def __init__(self, sessions: sessionmaker[Session], catalogue: Catalogue, *, changes: Changes | None = None,
                 notify_channel: str | None = None, calendar: OfficialCalendar | None = None,
                 versions: dict[str, Catalogue] | None = None) -> None:
        """`notify_channel`: where this replica announces the applications it changed to the
        other replicas (PostgreSQL; see changes.py), None where there are none (SQLite)."""
        self._sessions = sessions
        self.outbox = Outbox(IntakeOutbox)  # its relay: services/intake/__main__.py
        self.calendar = calendar or official()
        self._versions = versions or {catalogue.version: catalogue}
        self._catalogue = catalogue
        self.changes = changes or Changes()
        self._notify_channel = notify_channel
        self.notices = Notices(sessions, catalogue)
        self.queue = Queue(sessions, catalogue)

    # ---- accept ------------------------------------------------------------------------------
    def submit(self, req: intake_pb2.SubmitApplicationRequest) -> tuple[intake_pb2.Application, bool]:
        try:
            req = check_submission(self._catalogue, req)  # in its stored form from here on
        except IncompleteApplication as error:
            self.notices.issue(req, error)  # the 一次性告知书, kept; its id goes with the error
            raise
        try:
            ticket = (self.queue.for_case(req.ticket_id, matter_code=req.matter_code, bundle_code=req.bundle_code)
                      if req.ticket_id else None)
        except FailedPrecondition:
            existing = self._by_request(req.request_id)  # accepted already (the ticket has moved on since)
            if existing is None:
                raise
            return self._existing(existing, fingerprint(req), req.request_id)
        first_inquiry = ticket.first_clerk_id if ticket is not None else req.clerk_id
        fp = fingerprint(req)
        # A resubmission (same request id) is rare: insert first, and only when the unique request
        # id refuses the row, answer with the application it belongs to.
        now = clock.now()
        case_id = f"{self._catalogue.proto.division_code}{clock.local(now):%Y%m%d}{uuid.uuid4().hex[:10].upper()}"
        application_id = uuid.uuid4().hex
        limit = self._catalogue.promised_limit(matter_code=req.matter_code, bundle_code=req.bundle_code)
        # Counted from the day after acceptance (services/domain/timelimits.py); a deadline in a year
        # whose holidays are not published yet is provisional, and says so.
        promised = timelimits.due(now, limit.amount, limit_unit(limit), provisional=True, calendar=self.calendar)
        promised_by = promised.at
        if promised.provisional:
            log.warning("promised date provisional: the official calendar lacks a year", years=promised.unknown_years)
        due = pricing.quote(self._catalogue, matter_code=req.matter_code, bundle_code=req.bundle_code,
                            fields=dict(req.fields)).total.fen
        context.bind(case_id=case_id, actor_id=req.clerk_id)
        values = dict(
            application_id=application_id, request_id=req.request_id, request_fingerprint=fp, case_id=case_id,
            matter_code=req.matter_code, bundle_code=req.bundle_code, catalogue_version=self._catalogue.version,
            applicant=req.applicant.SerializeToString(), clerk_id=req.clerk_id,
            status=S.APPLICATION_STATUS_ACCEPTED, accepted_at=now, updated_at=now, promised_by=promised_by,
            promised_provisional=promised.provisional,
            last_sequence=0, snapshot=None, ticket_id=req.ticket_id,
            ticket_number=ticket.number if ticket is not None else "", first_inquiry_clerk_id=first_inquiry,
            fees_due_fen=due,
        )
        row = ApplicationRow(**values)  # for the answer; written below with a prebuilt statement
        submitted = approval_pb2.CaseSubmitted(
            case_id=case_id, application_id=application_id, matter_code=req.matter_code,
            bundle_code=req.bundle_code, catalogue_version=self._catalogue.version, applicant=req.applicant,
            materials=list(req.materials), fields=dict(req.fields), clerk_id=req.clerk_id,
            accepted_at=clock.to_timestamp(now), first_inquiry_clerk_id=first_inquiry,
            ticket_number=values["ticket_number"], ticket_id=req.ticket_id,  # type: ignore[arg-type]
        )
        try:
            # Writes only: on PostgreSQL the three INSERTs and COMMIT go in one round trip after BEGIN.
            with db.pinned_session(self._sessions) as session, db.pipelined(session):
                conn = session.connection()  # Core statements: no ORM execution layer on the hot path
                conn.execute(_INSERT_APP, values)
                conn.execute(_INSERT_EVENTS, dict(
                    application_id=application_id, sequence=0, status=S.APPLICATION_STATUS_ACCEPTED, step_id="",
                    step_status="", note="受理", at=now))
                self.outbox.add(session, topology.RK_CASE_SUBMITTED, submitted,
                               message_id=f"submitted-{case_id}")
                if ticket is not None:
                    conn.execute(_ATTACH_TICKET, {"k_ticket_id": ticket.ticket_id, "v_case_id": case_id})
                session.commit()
        except IntegrityError:
            # Another call with the same request id committed first.
            existing = self._by_request(req.request_id)
            if existing is None:
                raise
            return self._existing(existing, fp, req.request_id)
        log.info("application accepted", application_id=application_id, matter=req.matter_code,
                 bundle=req.bundle_code, id_number=req.applicant.id_number, first_inquiry=first_inquiry,
                 ticket=values["ticket_number"])
        return self.view(row), False

    def _existing(self, row: ApplicationRow, fp: str, request_id: str) -> tuple[intake_pb2.Application, bool]:
        if row.request_fingerprint != fp:
            raise RequestIdReused(request_id)
        context.bind(case_id=row.case_id)
        return self.view(row), True

    def _by_request(self, request_id: str) -> ApplicationRow | None:
        with self._sessions() as session:
            return session.scalar(select(ApplicationRow).where(ApplicationRow.request_id == request_id))

    # ---- read --------------------------------------------------------------------------------
    def get(self, application_id: str) -> ApplicationRow:
        with self._sessions() as session:
            row = session.get(ApplicationRow, application_id)
        if row is None:
            raise NotFound(f"申请 {application_id} 不存在", resource_type="hall.v1.Application",
                           resource_name=application_id)
        context.bind(case_id=row.case_id)
        return row

    def view(self, row: ApplicationRow) -> intake_pb2.Application:
        app = intake_pb2.Application(
            application_id=row.application_id, case_id=row.case_id, request_id=row.request_id,
            matter_code=row.matter_code, bundle_code=row.bundle_code, catalogue_version=row.catalogue_version,
            status=row.status,  # type: ignore[arg-type]
            accepted_at=clock.to_timestamp(row.accepted_at), updated_at=clock.to_timestamp(row.updated_at),
            promised_by=clock.to_timestamp(row.promised_by), clerk_id=row.clerk_id,
            promised_by_provisional=row.promised_provisional,
            withdrawal_requested=row.withdrawal_requested_at is not None,
            ticket_id=row.ticket_id, ticket_number=row.ticket_number, first_inquiry_clerk_id=row.first_inquiry_clerk_id,
            fees_due=common_pb2.Money(fen=row.fees_due_fen),
        )
        app.applicant.ParseFromString(row.applicant)
        if row.snapshot:
            snap = approval_pb2.CaseStatusChanged.FromString(row.snapshot)
            app.steps.extend(snap.steps)
            app.results.update(snap.results)
            app.reasons.extend(snap.reasons)
        return app

    def events_after(self, application_id: str, sequence: int) -> list[ApplicationEventRow]:
        with self._sessions() as session:
            return list(session.scalars(
                select(ApplicationEventRow)
                .where(ApplicationEventRow.application_id == application_id, ApplicationEventRow.sequence > sequence)
                .order_by(ApplicationEventRow.sequence)))

    # ---- provisional promises --------------------------------------------------------------
    def recompute_provisional(self) -> list[tuple[ApplicationRow, datetime, timelimits.Due]]:
        """The open applications whose promised date was provisional and can now be counted for
        good (the calendar holds the years it spans): their promised date counted again under the
        catalogue version they were accepted under, stored, and returned (the row, the old date,
        the new count) for the caller to record."""
        changed = []
        with self._sessions() as session, session.begin():
            rows = session.scalars(select(ApplicationRow).where(ApplicationRow.promised_provisional.is_(True),
                                                                ApplicationRow.status.not_in(TERMINAL))
                                   .with_for_update()).all()
            for row in rows:
                catalogue = self._versions.get(row.catalogue_version, self._catalogue)
                limit = catalogue.promised_limit(matter_code=row.matter_code, bundle_code=row.bundle_code)
                counted = timelimits.due(row.accepted_at, limit.amount, limit_unit(limit), provisional=True,
                                         calendar=self.calendar)
                if counted.provisional:
                    continue  # still a year nobody has published
                changed.append((row, row.promised_by, counted))
                row.promised_by, row.promised_provisional = counted.at, False
        return changed

    # ---- withdraw ----------------------------------------------------------------------------
    def withdraw(self, application_id: str, reason: str) -> intake_pb2.Application:
        with self._sessions() as session, session.begin():
            row = session.get(ApplicationRow, application_id, with_for_update=True)
            if row is None:
                raise NotFound(f"申请 {application_id} 不存在", resource_type="hall.v1.Application",
                               resource_name=application_id)
            context.bind(case_id=row.case_id)
            if row.status == intake_pb2.ApplicationStatus.APPLICATION_STATUS_WITHDRAWN:
                return self.view(row)  # withdrawn already: the same answer again
            if row.status in TERMINAL:
                raise FailedPrecondition("办结的申请不能撤回", violations=[("CASE_ENDED", application_id, "申请已办结")])
            if row.withdrawal_requested_at is not None:
                return self.view(row)  # in flight: sent once, answered as it stands
            row.withdrawal_requested_at = clock.now()
            self.outbox.add(session, topology.RK_CASE_WITHDRAWN,
                           approval_pb2.CaseWithdrawn(case_id=row.case_id, reason=reason or "申请人撤回",
                                                      at=clock.to_timestamp(clock.now())),
                           message_id=f"withdrawn-{row.case_id}")
        return self.view(row)

    # ---- follow the router -------------------------------------------------------------------
    def apply_status(self, event: approval_pb2.CaseStatusChanged) -> None:
        self.apply_statuses([event])

    def apply_statuses(self, events: list[approval_pb2.CaseStatusChanged]) -> None:
        """Record status events in one transaction (idempotent: duplicates and stale events change
        nothing). Applications are locked in case order, so concurrent batches never deadlock.
        On PostgreSQL that is three round trips whatever the batch's size: BEGIN, the lock, then
        the events, the applications' new state, the NOTIFY and COMMIT in one pipeline."""
        events = sorted((e for e in events if e.status in _FROM_CASE), key=lambda e: (e.case_id, e.sequence))
        if not events:
            return
        with db.pinned_session(self._sessions) as session:
            conn = session.connection()
            rows = {r.case_id: r for r in conn.execute(_LOCK_BY_CASE, {"ids": sorted({e.case_id for e in events})})}
            missing = {e.case_id for e in events} - set(rows)
            if missing:
                raise LookupError(f"no application for cases {sorted(missing)}")  # retried, then parked
            last = {r.application_id: r.last_sequence for r in rows.values()}
            new_events: dict[tuple[str, int], dict[str, object]] = {}
            latest: dict[str, dict[str, object]] = {}
            for event in events:
                status = _FROM_CASE[event.status]
                at = clock.from_timestamp(event.at) if event.HasField("at") else clock.now()
                application_id = rows[event.case_id].application_id
                new_events.setdefault((application_id, event.sequence), dict(
                    application_id=application_id, sequence=event.sequence, status=status, step_id=event.step_id,
                    step_status=stored_step_status(event.step_status), note=_note(event), at=at))
                if event.sequence > last[application_id]:
                    last[application_id] = event.sequence
                    latest[application_id] = {"k_application_id": application_id, "v_last_sequence": event.sequence,
                                              "v_status": status, "v_updated_at": at,
                                              "v_snapshot": event.SerializeToString()}
            # Every application of the batch is announced: a redelivery wakes its watchers for nothing.
            changed = sorted(last)
            with db.pipelined(session) as raw:
                conn.execute(_RECORD_EVENTS[conn.dialect.name], list(new_events.values()))
                if latest:
                    conn.execute(_UPDATE_STATUS, list(latest.values()))
                if raw is not None and self._notify_channel:  # the other replicas' watchers, at commit
                    announce(raw, self._notify_channel, changed)
                session.commit()
        self.changes.changed(changed)  # this replica's watchers, at once


def _note(event: approval_pb2.CaseStatusChanged) -> str:
    if event.status == approval_pb2.CASE_STATUS_AWAITING_PAYMENT:
        step = f"{event.step_id}: {_STEP_NOTES.get(event.step_status, '')}；" if event.step_id else ""
        return step + _CASE_NOTES[event.status]
    if event.reasons:
        return "；".join(r.message for r in event.reasons)
    if event.step_id:
        return f"{event.step_id}: {_STEP_NOTES.get(event.step_status, common_pb2.StepStatus.Name(event.step_status))}"
    return _CASE_NOTES.get(event.status, approval_pb2.CaseStatus.Name(event.status))


_STEP_NOTES = {common_pb2.STEP_STATUS_APPROVED: "已办结", common_pb2.STEP_STATUS_REFUSED: "不予许可",
               common_pb2.STEP_STATUS_CANCELLED: "已撤销", common_pb2.STEP_STATUS_INCIDENT: "技术故障，待运维处理",
               common_pb2.STEP_STATUS_DISPATCHED: "已分送部门", common_pb2.STEP_STATUS_PENDING: "等待前置环节"}
_CASE_NOTES = {approval_pb2.CASE_STATUS_IN_PROGRESS: "已分送各部门并联审批", approval_pb2.CASE_STATUS_COMPLETED: "全部办结",
               approval_pb2.CASE_STATUS_AWAITING_PAYMENT: "待缴费：请到窗口一次缴清",
               approval_pb2.CASE_STATUS_WITHDRAWN: "已撤回"}


__all__ = ["Applications", "TERMINAL", "common_pb2"]
