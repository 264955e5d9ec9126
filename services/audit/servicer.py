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

    def VerifyChain(self, request: audit_pb2.VerifyChainRequest, context: grpc.ServicerContext) -> audit_pb2.VerifyChainResponse:
        check = self._store.check_chain()
        return audit_pb2.VerifyChainResponse(
            intact=check.intact, records_checked=check.checked, first_broken_sequence=check.first_broken_sequence,
            problem=check.problem, head_hash=check.head_hash, head_count=check.head_count)
