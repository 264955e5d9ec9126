"""The department's desk: officers decide what waits for a person, and run special procedures.

Runs in the department's desk process (no eventlet; it hosts gRPC). Decisions and procedure
events go out through the adapter's outbox, in the same transaction as the register change.
"""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import approval_pb2, audit_pb2, department_pb2, department_pb2_grpc
from services.adapters.sdk.department import Decision, Department, Reason
from services.adapters.sdk.handled import Handled, outbox_model, procedures_table
from services.runtime import clock, context, topology
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from services.runtime.outbox import Outbox

log = structlog.get_logger(__name__)


class Desk:
    def __init__(self, department: Department, sessions: sessionmaker[Session]) -> None:
        self.department = department
        self.code = department.code
        self._sessions = sessions
        self._handled = Handled(department.code)
        self._procedures = procedures_table(department.code)
        self.outbox = Outbox(outbox_model(department.code))  # its relay: services/adapters/desk.py

    def pending(self) -> list[department_pb2.PendingItem]:
        t, p = self._handled.table, self._procedures
        with self._sessions() as session:
            rows = list(session.execute(t.select().where(t.c.kind == "pending").order_by(t.c.at)))
            items = []
            for row in rows:
                running = session.execute(select(p.c.kind).where(p.c.message_id == row.message_id,
                                                                 p.c.ended_at.is_(None))).scalar()
                items.append(department_pb2.PendingItem(
                    request_message_id=row.message_id,
                    request=approval_pb2.SubApprovalRequest.FromString(row.request),
                    waiting_for=row.waiting_for, since=clock.to_timestamp(row.at), procedure=running or ""))
            return items

    def _pending_row(self, session: Session, message_id: str) -> Any:
        if not message_id:
            raise InvalidArgument("request_message_id is required", violations=[("request_message_id", "必填")])
        row: Any = self._handled.row(session, message_id)
        if row is None:
            raise NotFound(f"no request {message_id}", resource_type="hall.v1.PendingItem", resource_name=message_id)
        context.bind(case_id=row.case_id)
        # Read again under the step's lock: a cancel of the step may have been committing meanwhile.
        self._handled.lock_step(session, row.case_id, row.step_id)
        row = self._handled.row(session, message_id)
        if row.kind != "pending":
            raise FailedPrecondition("该事项不在待办状态", violations=[("NOT_PENDING", message_id, row.kind)])
        return row

    def decide(self, req: department_pb2.DecideRequest) -> approval_pb2.SubApprovalDecision:
        if not req.officer_id:
            raise InvalidArgument("officer_id is required", violations=[("officer_id", "必须提供承办人编号")])
        if not req.approve and not any(r.message for r in req.reasons):
            raise InvalidArgument("a refusal must state its reasons", violations=[("reasons", "不予许可必须说明理由")])
        with self._sessions() as session, session.begin():
            row = self._pending_row(session, req.request_message_id)
            if self._running_procedure(session, req.request_message_id):
                raise FailedPrecondition("特别程序尚未结束，不能作出决定",
                                         violations=[("PROCEDURE_RUNNING", req.request_message_id, "")])
            request = approval_pb2.SubApprovalRequest.FromString(row.request)
            chosen = (Decision.approve(**dict(req.results)) if req.approve else
                      Decision.refuse(*[Reason(r.code or "OFFICER_REFUSED", r.message, r.field) for r in req.reasons]))
            chosen.officer_id = req.officer_id
            decision = chosen.to_proto(request, row.message_id, self.code)
            self._handled.set_kind(session, row.message_id, "decided", decision.SerializeToString())
            self.outbox.add(session, topology.rk_decision(self.code), decision,
                           message_id=f"dec-{row.message_id}",
                           headers={context.CASE_HEADER: row.case_id, context.ACTOR_HEADER: req.officer_id})
        log.info("officer decided", officer_id=req.officer_id, approve=req.approve)
        return decision

    def _running_procedure(self, session: Session, message_id: str) -> Any:
        p = self._procedures
        return session.execute(p.select().where(p.c.message_id == message_id, p.c.ended_at.is_(None))).first()

    def start_procedure(self, req: department_pb2.StartSpecialProcedureRequest) -> department_pb2.StartSpecialProcedureResponse:
        violations = [(f, "必填") for f in ("kind", "reason", "officer_id") if not getattr(req, f)]
        if violations:
            raise InvalidArgument("kind, reason and officer_id are required", violations=violations)
        now = clock.now()
        with self._sessions() as session, session.begin():
            row = self._pending_row(session, req.request_message_id)
            if self._running_procedure(session, req.request_message_id):
                raise FailedPrecondition("已有特别程序在进行", violations=[("PROCEDURE_RUNNING", req.request_message_id, "")])
            procedure_id = session.execute(self._procedures.insert().values(
                message_id=row.message_id, case_id=row.case_id, step_id=row.step_id, kind=req.kind,
                reason=req.reason, started_by=req.officer_id, started_at=now)
                .returning(self._procedures.c.id)).scalar_one()
            self._event(session, row, "special_procedure.start", req.kind, req.reason, req.officer_id)
            self._announce(session, row, procedure_id, approval_pb2.PROCEDURE_PHASE_STARTED, req.kind, req.reason,
                           req.officer_id, now)
        return department_pb2.StartSpecialProcedureResponse(started_at=clock.to_timestamp(now))

    def end_procedure(self, req: department_pb2.EndSpecialProcedureRequest) -> department_pb2.EndSpecialProcedureResponse:
        if not req.officer_id:
            raise InvalidArgument("officer_id is required", violations=[("officer_id", "必填")])
        now = clock.now()
        with self._sessions() as session, session.begin():
            row = self._pending_row(session, req.request_message_id)
            running: Any = self._running_procedure(session, req.request_message_id)
            if running is None:
                raise FailedPrecondition("没有进行中的特别程序", violations=[("NO_PROCEDURE", req.request_message_id, "")])
            p = self._procedures
            session.execute(p.update().where(p.c.id == running.id).values(
                ended_at=now, ended_by=req.officer_id, result=req.result))
            self._event(session, row, "special_procedure.end", running.kind, req.result, req.officer_id)
            self._announce(session, row, running.id, approval_pb2.PROCEDURE_PHASE_ENDED, running.kind, req.result,
                           req.officer_id, now)
        return department_pb2.EndSpecialProcedureResponse(ended_at=clock.to_timestamp(now))

    def _announce(self, session: Session, row: Any, procedure_id: int, phase: approval_pb2.ProcedurePhase.ValueType,
                  kind: str, detail: str, officer: str, at: Any) -> None:
        """Tell supervision (services/supervision/), which pauses the step's and the case's clock
        while a procedure whose time does not count runs (the catalogue says which do)."""
        request = approval_pb2.SubApprovalRequest.FromString(row.request)
        key = f"{self.code}-{procedure_id}"
        event = approval_pb2.SpecialProcedureChanged(
            case_id=row.case_id, step_id=row.step_id, department=self.code, matter_code=request.matter_code,
            procedure_id=key, phase=phase, kind=kind, detail=detail[:500], officer_id=officer,
            at=clock.to_timestamp(at))
        self.outbox.add(session, topology.rk_procedure(self.code), event,
                       message_id=f"procedure-{key}-{'start' if phase == approval_pb2.PROCEDURE_PHASE_STARTED else 'end'}",
                       headers={context.CASE_HEADER: row.case_id, context.ACTOR_HEADER: officer})

    def _event(self, session: Session, row: Any, operation: str, kind: str, detail: str, officer: str) -> None:
        """The procedure in the case's audit timeline."""
        record = audit_pb2.CallRecord(
            record_id=uuid.uuid4().hex, service=f"adapter-{self.code}",
            kind=audit_pb2.CallRecord.KIND_EVENT, operation=operation, case_id=row.case_id, actor_id=officer,
            outcome=kind, detail=detail[:500], step_id=row.step_id, department=self.code)
        record.started_at.CopyFrom(clock.to_timestamp(clock.now()))
        self.outbox.add(session, topology.rk_audit(f"adapter-{self.code}"), record,
                       message_id=record.record_id, headers={context.CASE_HEADER: row.case_id})


class DeskServicer(department_pb2_grpc.DepartmentDeskServiceServicer):
    def __init__(self, desk: Desk) -> None:
        self._desk = desk

    def ListPending(self, request: department_pb2.ListPendingRequest, context: grpc.ServicerContext) -> department_pb2.ListPendingResponse:
        return department_pb2.ListPendingResponse(items=self._desk.pending())

    def Decide(self, request: department_pb2.DecideRequest, context: grpc.ServicerContext) -> department_pb2.DecideResponse:
        return department_pb2.DecideResponse(decision=self._desk.decide(request))

    def StartSpecialProcedure(self, request: department_pb2.StartSpecialProcedureRequest, context: grpc.ServicerContext) -> department_pb2.StartSpecialProcedureResponse:
        return self._desk.start_procedure(request)

    def EndSpecialProcedure(self, request: department_pb2.EndSpecialProcedureRequest, context: grpc.ServicerContext) -> department_pb2.EndSpecialProcedureResponse:
        return self._desk.end_procedure(request)
