"""The adapter's message handling, free of nameko and eventlet (tested and reused directly).

Request -> (de-duplicate by message id) -> department.decide in the register's transaction ->
record the answer in the same transaction -> return the answer to publish. A redelivered request
gets the stored answer again; a later attempt of a step already decided gets that decision (an
answer can come after the router gave up on its attempt); a cancelled step is answered CANCELLED;
a technical error in `decide` is answered FAILED (the router retries with backoff) and nothing is
recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from google.protobuf.message import Message
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import approval_pb2
from services.adapters.sdk.department import Decision, Department, hand_prepared
from services.adapters.sdk.handled import Found, Handled, HandledRow
from services.runtime import clock, context, topology
from services.runtime.wire import Envelope, UndecodableMessage

log = structlog.get_logger(__name__)


@dataclass
class Outgoing:
    routing_key: str
    message: Message
    message_id: str


@dataclass
class Result:
    outgoing: list[Outgoing]
    outcome: str  # decided | replayed | cancelled | failed | ignored


class AdapterCore:
    def __init__(self, department: Department, sessions: sessionmaker[Session]) -> None:
        if not department.code:
            raise ValueError("a department needs a code")
        self.department = department
        self.code = department.code
        self._sessions = sessions
        self._handled = Handled(department.code)

    def handle(self, envelope: Envelope) -> Result:
        msg = envelope.message
        if isinstance(msg, approval_pb2.CancelStep):
            return self._cancel(envelope, msg)
        self.check_request(envelope)
        result = self.handle_requests([envelope])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def check_request(self, envelope: Envelope) -> None:
        """Raises UndecodableMessage (the message is parked) unless it is a request for this department."""
        msg = envelope.message
        if not isinstance(msg, approval_pb2.SubApprovalRequest):
            raise UndecodableMessage(f"{self.code} adapter does not handle {envelope.type}")
        if msg.department != self.code:
            raise UndecodableMessage(f"request for department {msg.department!r} reached {self.code!r}")

    def handle_requests(self, envelopes: list[Envelope]) -> list[Result | Exception]:
        """Requests (checked by `check_request`) that arrived together, decided in one transaction:
        the steps locked in one statement, what the SDK knows of their cases read in one, the
        records written in one, one commit. If anything fails, the transaction rolls back whole
        and each request is handled alone, so a technical failure answers FAILED for its own
        request only. One request alone is the same path with a batch of one. An exception in
        the list is one request's error (its message is to be retried), not an answer."""
        results: list[Result]
        prepared = self._prepare(envelopes)
        try:
            with self._sessions() as session, session.begin():
                hand_prepared(session, prepared)
                results = self._decide_all(session, envelopes)
        except Exception as exc:  # noqa: BLE001 - see below: a batch retries alone, a single request answers
            if len(envelopes) > 1:
                log.info("batch rolled back; handling its requests one by one", size=len(envelopes), error=repr(exc))
                return [self.handle_requests([e])[0] for e in envelopes]
            try:
                results = [self._after_error(envelopes[0], exc)]
            except Exception as again:  # noqa: BLE001 - handed to the request's worker
                return [again]
        for result in results:
            if result.outgoing:
                decided: Any = result.outgoing[0].message
                log.info("answered", case_id=decided.case_id, step_id=decided.step_id,
                         outcome=approval_pb2.Outcome.Name(decided.outcome), how=result.outcome)
        return list(results)

    def _prepare(self, envelopes: list[Envelope]) -> Any:
        """The department's `prepare` for the batch (outside the transaction: no step lock is held
        while it asks other departments); a failure leaves `decide` to fetch for itself."""
        try:
            return self.department.prepare([e.message for e in envelopes])  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - decide fetches alone, and fails its own request if it must
            log.warning("prepare failed; deciding without it", size=len(envelopes), error=repr(exc))
            return None

    def _decide_all(self, session: Session, envelopes: list[Envelope]) -> list[Result]:
        requests: list[approval_pb2.SubApprovalRequest] = [e.message for e in envelopes]  # type: ignore[misc]
        self._handled.lock_steps(session, [(r.case_id, r.step_id) for r in requests])
        known = self._handled.rows_of_cases(session, {r.case_id for r in requests})
        records: list[dict[str, Any]] = []
        results = []
        for envelope, req in zip(envelopes, requests, strict=True):
            with context.scope(case_id=req.case_id, actor_id=envelope.actor_id, step_id=req.step_id):
                found = Found.among(known, envelope.message_id, req.case_id, req.step_id)
                result, record = self._decide(session, envelope, req, found)
            if record is not None:
                records.append(record)
                known.append(HandledRow(**record))  # a later request of this batch sees it
            results.append(result)
        self._handled.record_all(session, records)
        return results

    def _decide(self, session: Session, envelope: Envelope, req: approval_pb2.SubApprovalRequest,
                found: Found) -> tuple[Result, dict[str, Any] | None]:
        """One request's answer, and the record to write for it (None: nothing to write)."""
        own: Any = found.own
        row = dict(message_id=envelope.message_id, case_id=req.case_id, step_id=req.step_id, at=clock.now(),
                   request=None, waiting_for="")
        if own is not None and own.decision is not None:
            return self._answer(approval_pb2.SubApprovalDecision.FromString(own.decision), "replayed"), None
        if own is not None:
            return Result([], own.kind), None  # waiting for an officer, or cancelled meanwhile
        if not found.cancelled and found.earlier is not None:
            # An earlier attempt of this step was decided after the router had given up on it (its
            # answer came late) and asked again: a step is decided once, so this attempt gets that
            # decision.
            decision = approval_pb2.SubApprovalDecision.FromString(found.earlier)
            decision.request_message_id, decision.attempt = envelope.message_id, req.attempt
            return self._answer(decision, "replayed"), {**row, "kind": "replayed",
                                                        "decision": decision.SerializeToString()}
        if found.cancelled:
            chosen, outcome = Decision.cancelled(), "cancelled"
        else:
            chosen, outcome = self.department.decide(req, session), "decided"
        if chosen.is_pending:
            log.info("waiting for an officer", case_id=req.case_id, step_id=req.step_id,
                     waiting_for=chosen.reasons[0].message)
            return Result([], "pending"), {**row, "kind": "pending", "decision": None,
                                           "request": req.SerializeToString(),
                                           "waiting_for": chosen.reasons[0].message}
        decision = chosen.to_proto(req, envelope.message_id, self.code)
        return self._answer(decision, outcome), {**row, "kind": "decided", "decision": decision.SerializeToString()}

    def _after_error(self, envelope: Envelope, exc: Exception) -> Result:
        req: Any = envelope.message
        if isinstance(exc, IntegrityError):
            # The same request was decided concurrently (another worker or replica); answer with its record.
            with self._sessions() as session:
                stored = self._handled.answer_for(session, envelope.message_id)
            if stored is None:
                raise exc
            return self._answer(approval_pb2.SubApprovalDecision.FromString(stored), "replayed")
        # A technical failure, not a refusal: the router retries with backoff.
        log.error("decide failed; answering FAILED", case_id=req.case_id, step_id=req.step_id,
                  exc_info=(type(exc), exc, exc.__traceback__))
        failed = Decision.failed(f"{type(exc).__name__}: {exc}"[:300]).to_proto(req, envelope.message_id, self.code)
        return self._answer(failed, "failed")

    def _answer(self, decision: approval_pb2.SubApprovalDecision, outcome: str) -> Result:
        return Result([Outgoing(topology.rk_decision(self.code), decision, f"dec-{decision.request_message_id}")],
                      outcome)

    def _cancel(self, envelope: Envelope, msg: approval_pb2.CancelStep) -> Result:
        with self._sessions() as session, session.begin():
            self._handled.lock_step(session, msg.case_id, msg.step_id)
            if self._handled.row(session, envelope.message_id) is None and not self._handled.is_cancelled(
                session, msg.case_id, msg.step_id
            ):
                for waiting in self._handled.cancelled_or_pending(session, msg.case_id, msg.step_id):
                    self._handled.set_kind(session, waiting.message_id, "cancelled")  # type: ignore[attr-defined]
                self._handled.record(session, message_id=envelope.message_id, case_id=msg.case_id,
                                     step_id=msg.step_id, kind="cancelled", decision=None, at=clock.now())
                self.department.cancel(msg.case_id, msg.step_id, session)
        log.info("step cancelled", step_id=msg.step_id, reason=msg.reason)
        return Result([], "cancelled")
