"""RouterService over gRPC: cases and incidents for operators."""

from __future__ import annotations

import grpc

from hall.v1 import router_pb2, router_pb2_grpc
from services.router.engine import Engine, step_state
from services.router.models import StepRow
from services.router.state import Record
from services.runtime import clock
from services.runtime.errors import InvalidArgument


def _incident(s: StepRow | Record) -> router_pb2.Incident:
    return router_pb2.Incident(case_id=s.case_id, step_id=s.step_id, department=s.department, attempts=s.attempt,
                               last_error=s.last_error, opened_at=clock.to_timestamp(s.decided_at or s.dispatched_at))


class RouterServicer(router_pb2_grpc.RouterServiceServicer):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def GetCase(self, request: router_pb2.GetCaseRequest, context: grpc.ServicerContext) -> router_pb2.GetCaseResponse:
        if not request.case_id:
            raise InvalidArgument("case_id is required", violations=[("case_id", "必须提供案件编号")])
        case, steps = self._engine.case(request.case_id)
        return router_pb2.GetCaseResponse(case_id=case.case_id, status=case.status,  # type: ignore[arg-type]
                                          application_id=case.application_id, paid_receipt=case.paid_receipt,
                                          steps=[step_state(s, case.ended_at) for s in steps],
                                          catalogue_version=case.catalogue_version)

    def ListIncidents(self, request: router_pb2.ListIncidentsRequest, context: grpc.ServicerContext) -> router_pb2.ListIncidentsResponse:
        return router_pb2.ListIncidentsResponse(incidents=[_incident(s) for s in self._engine.incidents()])

    def RetryIncident(self, request: router_pb2.RetryIncidentRequest, context: grpc.ServicerContext) -> router_pb2.RetryIncidentResponse:
        violations = [(f, "必填") for f in ("case_id", "step_id") if not getattr(request, f)]
        if violations:
            raise InvalidArgument("case_id and step_id are required", violations=violations)
        return router_pb2.RetryIncidentResponse(incident=_incident(self._engine.retry_incident(request.case_id, request.step_id)))
