"""AuditService over gRPC."""

from __future__ import annotations

import grpc

from hall.v1 import audit_pb2, audit_pb2_grpc
from services.audit.store import AuditStore
from services.runtime.errors import InvalidArgument


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, store: AuditStore) -> None:
        self._store = store

    def GetCaseTimeline(self, request: audit_pb2.GetCaseTimelineRequest, context: grpc.ServicerContext) -> audit_pb2.GetCaseTimelineResponse:
        if not request.case_id:
            raise InvalidArgument("case_id is required", violations=[("case_id", "必须提供案件编号")])
        return audit_pb2.GetCaseTimelineResponse(entries=self._store.timeline(request.case_id))
