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
from services.adapters.sdk.department import Decision, Department
from services.adapters.sdk.handled import Handled
from services.runtime import clock, topology
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
        if isinstance(msg, approval_pb2.SubApprovalRequest):
            if msg.department != self.code:
                raise UndecodableMessage(f"request for department {msg.department!r} reached {self.code!r}")
            return self._request(envelope, msg)
        raise UndecodableMessage(f"{self.code} adapter does not handle {envelope.type}")

    def _request(self, envelope: Envelope, req: approval_pb2.SubApprovalRequest) -> Result:
        outcome = "decided"
        try:
            with self._sessions() as session, session.begin():
                self._handled.lock_step(session, req.case_id, req.step_id)
                found = self._handled.lookup(session, envelope.message_id, req.case_id, req.step_id)
                existing: Any = found.own
                if existing is not None and existing.decision is not None:
                    decision = approval_pb2.SubApprovalDecision.FromString(existing.decision)
                    outcome = "replayed"
                elif existing is not None:
                    return Result([], existing.kind)  # waiting for an officer, or cancelled meanwhile
                elif not found.cancelled and found.earlier is not None:
                    # An earlier attempt of this step was decided after the router had given up on
                    # it (its answer came late) and asked again: a step is decided once, so this
                    # attempt gets that decision.
                    decision = approval_pb2.SubApprovalDecision.FromString(found.earlier)
                    decision.request_message_id, decision.attempt = envelope.message_id, req.attempt
                    self._handled.record(session, message_id=envelope.message_id, case_id=req.case_id,
                                         step_id=req.step_id, kind="replayed", decision=decision.SerializeToString(),
                                         at=clock.now())
                    outcome = "replayed"
                else:
                    if found.cancelled:
                        chosen = Decision.cancelled()
                        outcome = "cancelled"
                    else:
                        chosen = self.department.decide(req, session)
                    if chosen.is_pending:
                        self._handled.record(session, message_id=envelope.message_id, case_id=req.case_id,
                                             step_id=req.step_id, kind="pending", decision=None, at=clock.now(),
                                             request=req.SerializeToString(), waiting_for=chosen.reasons[0].message)
                        log.info("waiting for an officer", step_id=req.step_id, waiting_for=chosen.reasons[0].message)
                        return Result([], "pending")
                    decision = chosen.to_proto(req, envelope.message_id, self.code)
                    self._handled.record(session, message_id=envelope.message_id, case_id=req.case_id,
                                         step_id=req.step_id, kind="decided", decision=decision.SerializeToString(),
                                         at=clock.now())
        except IntegrityError:
            # The same request was decided concurrently (another worker or replica); answer with its record.
            with self._sessions() as session:
                stored = self._handled.answer_for(session, envelope.message_id)
            if stored is None:
                raise
            decision = approval_pb2.SubApprovalDecision.FromString(stored)
            outcome = "replayed"
        except Exception as exc:  # noqa: BLE001 - a technical failure, not a refusal
            log.exception("decide failed; answering FAILED", step_id=req.step_id)
            decision = Decision.failed(f"{type(exc).__name__}: {exc}"[:300]).to_proto(req, envelope.message_id, self.code)
            outcome = "failed"
        log.info("answered", step_id=req.step_id, outcome=approval_pb2.Outcome.Name(decision.outcome), how=outcome)
        return Result([Outgoing(topology.rk_decision(self.code), decision, f"dec-{envelope.message_id}")], outcome)

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
