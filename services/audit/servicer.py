"""AuditService over gRPC."""

from __future__ import annotations

from datetime import timedelta

import grpc

from hall.v1 import audit_pb2, audit_pb2_grpc
from services.audit.store import AuditStore
from services.runtime import clock
from services.runtime.errors import InvalidArgument


class AuditServicer(audit_pb2_grpc.AuditServiceServicer):
    def __init__(self, store: AuditStore, checkpoint_every: timedelta | None = None) -> None:
        self._store = store
        # Checkpoints come every interval; three missed in a row mean they were removed.
        self._stale_after = checkpoint_every * 3 if checkpoint_every else None

    def GetCaseTimeline(self, request: audit_pb2.GetCaseTimelineRequest, context: grpc.ServicerContext) -> audit_pb2.GetCaseTimelineResponse:
        if not request.case_id:
            raise InvalidArgument("case_id is required", violations=[("case_id", "必须提供案件编号")])
        return audit_pb2.GetCaseTimelineResponse(entries=self._store.timeline(request.case_id))

    def VerifyChain(self, request: audit_pb2.VerifyChainRequest, context: grpc.ServicerContext) -> audit_pb2.VerifyChainResponse:
        check = self._store.check_chain(stale_after=self._stale_after)
        return audit_pb2.VerifyChainResponse(
            intact=check.intact, records_checked=check.checked, first_broken_sequence=check.first_broken_sequence,
            problem=check.problem, head_hash=check.head_hash, head_count=check.head_count,
            kind=check.kind, first_broken_record_id=check.first_broken_record_id,  # type: ignore[arg-type]
            anchored_count=check.anchored_count, checkpoints_verified=check.checkpoints_verified)

    def SearchRecords(self, request: audit_pb2.SearchRecordsRequest, context: grpc.ServicerContext) -> audit_pb2.SearchRecordsResponse:
        violations = []
        if not 0 <= request.limit <= MAX_PAGE:
            violations.append(("limit", f"每页条数应在1至{MAX_PAGE}之间（0：默认100条）"))
        if request.after < 0:
            violations.append(("after", "游标不能为负数"))
        if len(request.actor_id) > 64 or len(request.department) > 64:
            violations.append(("actor_id" if len(request.actor_id) > 64 else "department", "不超过64个字符"))
        start = clock.from_timestamp(getattr(request, "from")) if request.HasField("from") else None
        end = clock.from_timestamp(request.to) if request.HasField("to") else None
        if start is not None and end is not None and end <= start:
            violations.append(("to", "截止时间应晚于起始时间"))
        if violations:
            raise InvalidArgument("查询条件有误", violations=violations)
        entries, next_after = self._store.search(actor_id=request.actor_id, department=request.department, start=start,
                                                 end=end, after=request.after, limit=request.limit or 100)
        return audit_pb2.SearchRecordsResponse(entries=entries, next_after=next_after)


MAX_PAGE = 1000
