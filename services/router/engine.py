"""The workflow engine: one transaction per message, state and outgoing messages together.

Every handler runs under a row lock on its case (SELECT ... FOR UPDATE on PostgreSQL), so two
router replicas never dispatch the same step twice or lose an update. Every incoming message id
is recorded; a redelivered or duplicated message changes nothing. A decision that answers an
older attempt, or arrives after the case ended, is ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import approval_pb2, catalogue_pb2, common_pb2
from services.catalogue import Catalogue, pricing
from services.domain import masking, timelimits
from services.router import state
from services.router.models import (
    APPROVED,
    CANCELLED,
    DISPATCHED,
    INCIDENT,
    PENDING,
    REFUSED,
    WIRE_STATUS,
    CaseRow,
    ProcessedMessage,
    RouterOutbox,
    StepRow,
)
from services.router.state import Record
from services.runtime import clock, context, db, metrics, topology
from services.runtime.errors import FailedPrecondition, NotFound
from services.runtime.outbox import Outbox
from services.runtime.wire import Envelope

log = structlog.get_logger(__name__)

CS = approval_pb2.CaseStatus
_STATUS_KEY: dict[int, str] = {
    CS.CASE_STATUS_IN_PROGRESS: "in_progress",
    CS.CASE_STATUS_COMPLETED: "completed",
    CS.CASE_STATUS_REFUSED: "refused",
    CS.CASE_STATUS_WITHDRAWN: "withdrawn",
    CS.CASE_STATUS_AWAITING_PAYMENT: "awaiting_payment",
}
# A case still open: decisions and withdrawals still apply.
OPEN = {CS.CASE_STATUS_IN_PROGRESS, CS.CASE_STATUS_AWAITING_PAYMENT}
# Records the batch's message ids and returns those not recorded before, in one statement: a
# redelivered message comes back empty and is skipped; a concurrent delivery of the same message
# waits for the first to commit (the ids are inserted in sorted order: no deadlock between batches).
_CLAIM_MESSAGES = db.per_dialect(
    lambda insert: insert(ProcessedMessage).on_conflict_do_nothing(index_elements=[ProcessedMessage.message_id])
    .returning(ProcessedMessage.message_id))


class Engine:
    def __init__(
        self, sessions: sessionmaker[Session], catalogue: Catalogue, *,
        max_attempts: int = 4, versions: dict[str, Catalogue] | None = None,
    ) -> None:
        self._sessions = sessions
        self.outbox = Outbox(RouterOutbox)  # its relay: services/router/__main__.py
        self._catalogue = catalogue
        self._versions = versions or {catalogue.version: catalogue}
        self._max_attempts = max_attempts
        self._lock = db.is_postgres(sessions.kw["bind"])
        self._claim_messages = _CLAIM_MESSAGES[sessions.kw["bind"].dialect.name]

    # ---- message entry point -------------------------------------------------------------------
    def handle(self, envelope: Envelope) -> None:
        self.handle_batch([envelope])

    def handle_batch(self, envelopes: list[Envelope]) -> None:
        """Handle messages that arrived together in one transaction (cases locked in id order,
        so concurrent batches never deadlock). If anything fails, the whole batch rolls back and
        the consumer retries its messages one by one. On PostgreSQL the transaction is three round
        trips (state.py): BEGIN, the claim and the reads, then the writes and the commit."""
        handlers: dict[type, Callable[[Session, state.Loaded, Any], None]] = {
            approval_pb2.CaseSubmitted: self._submitted,
            approval_pb2.SubApprovalDecision: self._decision,
            approval_pb2.CaseWithdrawn: self._withdrawn,
            approval_pb2.PaymentReceived: self._paid,
        }
        ordered = sorted(envelopes, key=lambda e: getattr(e.message, "case_id", ""))
        message_ids = sorted({e.message_id for e in ordered})
        case_ids = [cid for e in ordered if (cid := getattr(e.message, "case_id", ""))]
        # A connection of its own until the block ends (the commit is in a pipeline); closing the
        # session without a commit rolls back.
        with db.pinned_session(self._sessions) as session:
            now = clock.now()
            if self._lock:  # PostgreSQL
                fresh, batch = state.claim_and_load(session, message_ids, case_ids, now, lock=True)
            else:
                fresh = set(session.connection().execute(self._claim_messages, [
                    {"message_id": m, "processed_at": now} for m in message_ids]).scalars())
                batch = state.load(session, case_ids, lock=False)
            for envelope in ordered:
                handler = handlers.get(type(envelope.message))
                if handler is None:
                    log.warning("router ignores message type", type=envelope.type)
                    continue
                if envelope.message_id not in fresh:
                    log.info("duplicate message ignored", message_id=envelope.message_id)
                    continue
                fresh.discard(envelope.message_id)  # the same message twice in one batch
                with context.scope(case_id=envelope.case_id, actor_id=envelope.actor_id):
                    handler(session, batch, envelope.message)
            with db.pipelined(session):
                state.save(session, batch)
                session.commit()  # the outbox rows are written just before (outbox.py)

    # ---- handlers --------------------------------------------------------------------------------
    # Each handler works on `batch`, the cases and steps this transaction loaded (and locked), and
    # writes what it changes back into it: handle_batch saves the batch before its commit.
    def _submitted(self, session: Session, batch: state.Loaded, msg: approval_pb2.CaseSubmitted) -> None:
        if msg.case_id in batch:
            return
        catalogue = self._versions.get(msg.catalogue_version or self._catalogue.version)
        if catalogue is None:
            # Accepted under a catalogue this router does not have (yet): retried, then parked.
            raise LookupError(f"catalogue version {msg.catalogue_version} unknown to this router")
        plan = catalogue.plan(matter_code=msg.matter_code, bundle_code=msg.bundle_code)
        now = clock.now()
        due = pricing.quote(catalogue, matter_code=msg.matter_code, bundle_code=msg.bundle_code, fields=dict(msg.fields))
        stage = pricing.payment_stage(catalogue, matter_code=msg.matter_code, bundle_code=msg.bundle_code)
        case = Record(dict(
            case_id=msg.case_id, application_id=msg.application_id, matter_code=msg.matter_code,
            bundle_code=msg.bundle_code, catalogue_version=catalogue.version,
            status=CS.CASE_STATUS_IN_PROGRESS, event_seq=0, submitted=msg.SerializeToString(), results={},
            reasons=[], created_at=now, updated_at=now, ended_at=None,
            payment_stage=stage if due.total.fen else 0, payment_due_fen=due.total.fen, paid_receipt="",
        ), new=True)
        steps = [
            Record(dict(case_id=msg.case_id, step_id=ps.step_id, position=i, department=ps.department,
                        matter_code=ps.matter_code, status=PENDING, attempt=0, request_message_id="", results={},
                        reasons=[], last_error="", dispatched_at=None, decided_at=None, due_at=None,
                        after=list(ps.after), limit_days=catalogue.matters[ps.matter_code].promised_limit.amount,
                        started_at=None, retried_after=0, officer_id=""), new=True)
            for i, ps in enumerate(plan.steps)
        ]
        batch[msg.case_id] = (case, steps)
        log.info("case planned", steps=[s.step_id for s in steps])
        if case.payment_stage == catalogue_pb2.PAYMENT_STAGE_BEFORE_ACCEPTANCE:
            case.status = CS.CASE_STATUS_AWAITING_PAYMENT  # the departments start once it is paid
            log.info("case awaits payment before the departments start", due_fen=case.payment_due_fen)
            self._emit(session, case, steps, None)
            return
        self._advance(session, case, steps, None)

    def _decision(self, session: Session, batch: state.Loaded, msg: approval_pb2.SubApprovalDecision) -> None:
        case, steps = batch.get(msg.case_id, (None, []))
        if case is None:
            raise LookupError(f"decision for unknown case {msg.case_id}")
        step = next((s for s in steps if s.step_id == msg.step_id), None)
        if step is None or case.status not in OPEN:
            log.info("late decision ignored", step_id=msg.step_id, case_status=case.status)
            return
        if step.status != DISPATCHED or msg.request_message_id != step.request_message_id:
            log.info("stale decision ignored", step_id=step.step_id, step_status=step.status)
            return
        now = clock.now()
        if msg.outcome == approval_pb2.OUTCOME_APPROVED:
            step.status, step.decided_at, step.results = APPROVED, now, dict(msg.results)
            step.officer_id = msg.officer_id
            case.results = {**case.results, **dict(msg.results)}
            self._advance(session, case, steps, step)
        elif msg.outcome == approval_pb2.OUTCOME_REFUSED:
            step.status, step.decided_at, step.reasons = REFUSED, now, [_reason_dict(r) for r in msg.reasons]
            step.officer_id = msg.officer_id
            self._end(session, case, steps, CS.CASE_STATUS_REFUSED, step.reasons, step, "其他部门不予许可，本事项终止")
        elif msg.outcome == approval_pb2.OUTCOME_FAILED:
            step.last_error = "；".join(r.message for r in msg.reasons) or "technical failure"
            tries = step.attempt - step.retried_after  # since the operator's last retry, if any
            if tries >= self._max_attempts:
                step.status = INCIDENT
                log.error("step became an incident", step_id=step.step_id, attempts=step.attempt, error=step.last_error)
                self._emit(session, case, steps, step)
            else:
                delay = topology.retry_delay(tries)
                log.warning("step failed; retrying", step_id=step.step_id, attempt=step.attempt, delay_s=delay)
                self._dispatch(session, case, step, steps, delay_s=delay)
        else:
            log.info("decision without effect", outcome=msg.outcome, step_id=step.step_id)

    def _withdrawn(self, session: Session, batch: state.Loaded, msg: approval_pb2.CaseWithdrawn) -> None:
        case, steps = batch.get(msg.case_id, (None, []))
        if case is None:
            raise LookupError(f"withdrawal of unknown case {msg.case_id}")  # submission not seen yet: retry
        if case.status not in OPEN:
            return
        reason = {"code": "WITHDRAWN", "message": msg.reason or "申请人撤回申请", "department": "", "field": ""}
        self._end(session, case, steps, CS.CASE_STATUS_WITHDRAWN, [reason], None, "申请人已撤回申请")

    def _paid(self, session: Session, batch: state.Loaded, msg: approval_pb2.PaymentReceived) -> None:
        case, steps = batch.get(msg.case_id, (None, []))
        if case is None:
            raise LookupError(f"payment of unknown case {msg.case_id}")  # submission not seen yet: retry
        if case.paid_receipt:
            return
        case.paid_receipt = msg.receipt_number
        log.info("case paid", receipt_number=msg.receipt_number)
        if case.status == CS.CASE_STATUS_AWAITING_PAYMENT:
            case.status = CS.CASE_STATUS_IN_PROGRESS
            self._advance(session, case, steps, None)  # the departments start, or the case completes

    # ---- operator actions ---------------------------------------------------------------------
    def retry_incident(self, case_id: str, step_id: str) -> Record:
        with self._sessions() as session, session.begin():
            batch = state.load(session, [case_id], lock=self._lock)
            case, steps = batch.get(case_id, (None, []))
            step = next((s for s in steps if s.step_id == step_id), None) if case else None
            if case is None or step is None:
                raise NotFound(f"step {case_id}/{step_id} not found", resource_type="hall.v1.Incident",
                               resource_name=f"{case_id}/{step_id}")
            context.bind(case_id=case_id)
            if step.status != INCIDENT or case.status != CS.CASE_STATUS_IN_PROGRESS:
                raise FailedPrecondition("only an open incident can be retried",
                                         violations=[("NOT_AN_INCIDENT", f"{case_id}/{step_id}", step.status)])
            # A fresh set of attempts, backing off from the first delay again: the cause may take
            # a moment to clear everywhere (a client's reconnect backoff), and one failure then
            # must not make it an incident again at once.
            step.retried_after = step.attempt
            self._dispatch(session, case, step, steps, delay_s=0)
            self._emit(session, case, steps, step)
            state.save(session, batch)
        return step

    def count_incidents(self) -> int:
        """Steps waiting for an operator's RetryIncident, in every case."""
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(StepRow).where(StepRow.status == INCIDENT)) or 0)

    def count_open_incidents(self) -> None:
        """Publish how many incidents wait (`hall_router_open_incidents`, for alerting). Steps
        past their limits are supervision's business (services/supervision/)."""
        metrics.OPEN_INCIDENTS.set(self.count_incidents())

    def incidents(self) -> list[StepRow]:
        with self._sessions() as session:
            return list(session.scalars(select(StepRow).where(StepRow.status == INCIDENT)
                                        .order_by(StepRow.dispatched_at)))

    def case(self, case_id: str) -> tuple[CaseRow, list[StepRow]]:
        with self._sessions() as session:
            case = session.get(CaseRow, case_id)
            if case is None:
                raise NotFound(f"case {case_id} not found", resource_type="hall.v1.Case", resource_name=case_id)
            steps = list(session.scalars(select(StepRow).where(StepRow.case_id == case_id).order_by(StepRow.position)))
            return case, steps

    # ---- mechanics -----------------------------------------------------------------------------
    def _advance(self, session: Session, case: Record, steps: list[Record], changed: Record | None) -> None:
        if all(s.status == APPROVED for s in steps):
            if case.payment_stage == catalogue_pb2.PAYMENT_STAGE_BEFORE_HANDOVER and not case.paid_receipt:
                # Approved: the certificates are handed over once the fees are paid.
                case.status, case.updated_at = CS.CASE_STATUS_AWAITING_PAYMENT, clock.now()
                log.info("case approved; awaits payment before handover", due_fen=case.payment_due_fen)
                self._emit(session, case, steps, changed)
                return
            case.status, case.ended_at, case.updated_at = CS.CASE_STATUS_COMPLETED, clock.now(), clock.now()
            log.info("case completed")
            self._emit(session, case, steps, changed)
            return
        # The plan pinned when the case was accepted: each step's `after` list.
        done = {s.step_id for s in steps if s.status == APPROVED}
        for step in steps:
            if step.status == PENDING and all(a in done for a in step.after):
                self._dispatch(session, case, step, steps, delay_s=0)
        self._emit(session, case, steps, changed)

    def _dispatch(self, session: Session, case: Record, step: Record, steps: list[Record], *, delay_s: int) -> None:
        submitted = approval_pb2.CaseSubmitted.FromString(case.submitted)
        now = clock.now()
        step.attempt += 1
        step.status = DISPATCHED
        step.request_message_id = f"req-{case.case_id}-{step.step_id}-{step.attempt}"
        step.dispatched_at = now
        if step.started_at is None:
            # The step's limit runs from its first dispatch: an automatic retry, or an operator's
            # RetryIncident, sends it again but does not give it its time again. `due_at` tells
            # the department when its step is due as of now; supervision keeps the real ledger
            # (special procedures pause it, extensions move it).
            step.started_at = now
            step.due_at = timelimits.due(now, step.limit_days, provisional=True).at
        upstream: dict[str, str] = {}
        for s in steps:
            if s.status == APPROVED:
                upstream.update(s.results)
        request = approval_pb2.SubApprovalRequest(
            case_id=case.case_id, step_id=step.step_id, department=step.department, matter_code=step.matter_code,
            applicant=submitted.applicant, materials=list(submitted.materials), fields=dict(submitted.fields),
            upstream=upstream, attempt=step.attempt, due_at=clock.to_timestamp(step.due_at),
            clerk_id=submitted.clerk_id,
        )
        self.outbox.add(
            session, topology.rk_step_request(step.department), request,
            message_id=step.request_message_id,
            headers={context.CASE_HEADER: case.case_id, context.ACTOR_HEADER: submitted.clerk_id},
            exchange=topology.delay_exchange(delay_s) if delay_s else topology.EXCHANGE,
        )

    def _end(self, session: Session, case: Record, steps: list[Record], status: int,
             reasons: list[dict[str, str]], changed: Record | None, cancel_reason: str) -> None:
        for s in steps:
            if s.status == DISPATCHED:
                self.outbox.add(
                    session, topology.rk_step_cancel(s.department),
                    approval_pb2.CancelStep(case_id=case.case_id, step_id=s.step_id, department=s.department,
                                            reason=cancel_reason),
                    message_id=f"cancel-{case.case_id}-{s.step_id}-{s.attempt}",
                )
            if s.status in (DISPATCHED, PENDING, INCIDENT):
                s.status = CANCELLED
        case.status, case.reasons, case.ended_at, case.updated_at = status, reasons, clock.now(), clock.now()
        log.info("case ended", status=_STATUS_KEY[status])
        self._emit(session, case, steps, changed)

    def _emit(self, session: Session, case: Record, steps: list[Record], changed: Record | None) -> None:
        submitted = approval_pb2.CaseSubmitted.FromString(case.submitted)
        case.event_seq += 1
        case.updated_at = clock.now()
        event = approval_pb2.CaseStatusChanged(
            case_id=case.case_id, application_id=case.application_id, status=case.status,  # type: ignore[arg-type]
            step_id=changed.step_id if changed else "", step_status=WIRE_STATUS[changed.status] if changed else common_pb2.STEP_STATUS_UNSPECIFIED,
            steps=[step_state(s, case.ended_at) for s in steps], results=case.results,
            reasons=[common_pb2.Reason(**r) for r in case.reasons],
            matter_code=case.matter_code, bundle_code=case.bundle_code, catalogue_version=case.catalogue_version,
            at=clock.to_timestamp(case.updated_at), sequence=case.event_seq,
            applicant_name=submitted.applicant.name, clerk_id=submitted.clerk_id, accepted_at=submitted.accepted_at,
            applicant_kind=submitted.applicant.kind,
            applicant_id_masked=masking.id_number(submitted.applicant.kind, submitted.applicant.id_number),
            first_inquiry_clerk_id=submitted.first_inquiry_clerk_id or submitted.clerk_id,
            ticket_id=submitted.ticket_id, ticket_number=submitted.ticket_number,
        )
        self.outbox.add(session, topology.rk_case_status(_STATUS_KEY[case.status]), event,
                       message_id=f"status-{case.case_id}-{case.event_seq}",
                       headers={context.CASE_HEADER: case.case_id})


def step_state(s: StepRow | Record, case_ended_at: datetime | None = None) -> common_pb2.Step:
    """A step on the wire. Its end: its decision, else (cancelled with its case) the case's end."""
    ended = s.decided_at or (case_ended_at if s.status == CANCELLED else None)
    step = common_pb2.Step(
        step_id=s.step_id, department=s.department, matter_code=s.matter_code, status=WIRE_STATUS[s.status],
        results=s.results, reasons=[common_pb2.Reason(**r) for r in s.reasons], officer_id=s.officer_id)
    if s.started_at is not None:
        step.started_at.CopyFrom(clock.to_timestamp(s.started_at))
    if ended is not None:
        step.ended_at.CopyFrom(clock.to_timestamp(ended))
    return step


def _reason_dict(r: common_pb2.Reason) -> dict[str, str]:
    return {"code": r.code, "message": r.message, "department": r.department, "field": r.field}


__all__ = ["Engine", "REFUSED", "step_state"]
