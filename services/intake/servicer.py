"""IntakeService over gRPC: thin; the rules live in applications.py and validation.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import grpc

from hall.v1 import intake_pb2, intake_pb2_grpc
from services.catalogue import Catalogue
from services.catalogue.search import Index
from services.intake.applications import TERMINAL, Applications
from services.intake.models import wire_step_status
from services.runtime import clock
from services.runtime.errors import InvalidArgument, NotFound, ResourceExhausted, Unavailable

MAX_HITS = 50


class IntakeServicer(intake_pb2_grpc.IntakeServiceServicer):
    def __init__(self, catalogue: Catalogue, applications: Applications, *, max_watches: int = 200,
                 watch_poll_s: float = 5.0, audit_stalled_for: Callable[[], float] | None = None,
                 fail_closed_after_s: float = 30.0) -> None:
        """`watch_poll_s`: how often a watcher reads the database without having been woken
        (a notification lost while the listener reconnected: see changes.py).
        `audit_stalled_for`: how long call records have not been delivered (the audit emitter's);
        beyond `fail_closed_after_s` no new application is accepted (fail closed)."""
        self._audit_stalled_for = audit_stalled_for or (lambda: 0.0)
        self._fail_closed_after_s = fail_closed_after_s
        self._catalogue = catalogue
        self._index = Index(catalogue)
        self._apps = applications
        self._watch_poll_s = watch_poll_s
        self._max_watches = max_watches
        self._watch_slots = threading.BoundedSemaphore(max_watches)

    def ListMatters(self, request: intake_pb2.ListMattersRequest, context: grpc.ServicerContext) -> intake_pb2.ListMattersResponse:
        matters = [m for m in self._catalogue.proto.matters if not request.department or m.department == request.department]
        return intake_pb2.ListMattersResponse(catalogue_version=self._catalogue.version, matters=matters)

    def GetMatter(self, request: intake_pb2.GetMatterRequest, context: grpc.ServicerContext) -> intake_pb2.GetMatterResponse:
        if not request.code:
            raise InvalidArgument("必须提供事项编码", violations=[("code", "必须提供事项编码")])
        matter = self._catalogue.matter(request.code)
        if matter is None:
            raise NotFound(f"事项 {request.code} 不在目录中", resource_type="hall.v1.Matter",
                           resource_name=request.code)
        return intake_pb2.GetMatterResponse(matter=matter)

    def ListBundles(self, request: intake_pb2.ListBundlesRequest, context: grpc.ServicerContext) -> intake_pb2.ListBundlesResponse:
        return intake_pb2.ListBundlesResponse(catalogue_version=self._catalogue.version,
                                              bundles=list(self._catalogue.proto.bundles))

    def SearchCatalogue(self, request: intake_pb2.SearchCatalogueRequest, context: grpc.ServicerContext) -> intake_pb2.SearchCatalogueResponse:
        query = request.query.strip()
        violations = []
        if not query:
            violations.append(("query", "请输入要查找的事项，如“开办企业”或拼音首字母“qykb”"))
        elif len(query) > 100:
            violations.append(("query", "查询内容不得超过100个字符"))
        if not 0 <= request.limit <= MAX_HITS:
            violations.append(("limit", f"条数应在1至{MAX_HITS}之间（0：默认10条）"))
        if violations:
            raise InvalidArgument("查询条件有误", violations=violations)
        hits = self._index.search(query, request.limit or 10)
        return intake_pb2.SearchCatalogueResponse(catalogue_version=self._index.version, hits=[
            intake_pb2.SearchHit(matter_code=h.doc.matter_code, bundle_code=h.doc.bundle_code, name=h.doc.name,
                                 department=h.doc.department, window_group=h.doc.window_group,
                                 score=round(h.score, 4), matched=h.matched) for h in hits])

    def GetNotice(self, request: intake_pb2.GetNoticeRequest, context: grpc.ServicerContext) -> intake_pb2.GetNoticeResponse:
        return intake_pb2.GetNoticeResponse(notice=self._apps.notices.lookup(request))

    def SubmitApplication(self, request: intake_pb2.SubmitApplicationRequest, context: grpc.ServicerContext) -> intake_pb2.SubmitApplicationResponse:
        # Fail closed: a case is accepted only while the evidence of it can be delivered. What
        # waits meanwhile is kept (spooled, pushed back) and sent when delivery returns; the
        # window takes applications again by itself then.
        stalled = self._audit_stalled_for()
        if stalled > self._fail_closed_after_s:
            raise Unavailable(f"call records undelivered for {stalled:.0f} s: not accepting applications",
                              zh="监察记录暂时无法送达电子监察系统，为保证每一件受理都有记录，暂停受理新申请；"
                                 "恢复后自动继续受理，请稍候再提交（已提交的申请不受影响）",
                              reason="AUDIT_UNDELIVERED", retry_after_s=5.0)
        application, duplicate = self._apps.submit(request)
        return intake_pb2.SubmitApplicationResponse(application=application, duplicate=duplicate)

    def GetApplication(self, request: intake_pb2.GetApplicationRequest, context: grpc.ServicerContext) -> intake_pb2.GetApplicationResponse:
        _require_id(request.application_id)
        return intake_pb2.GetApplicationResponse(application=self._apps.view(self._apps.get(request.application_id)))

    def WatchApplication(self, request: intake_pb2.WatchApplicationRequest, context: grpc.ServicerContext) -> Iterator[intake_pb2.WatchApplicationResponse]:
        _require_id(request.application_id)
        if not self._watch_slots.acquire(blocking=False):
            raise ResourceExhausted(f"同时跟踪的申请已达上限（{self._max_watches} 个，INTAKE_MAX_WATCHES）："
                                    "请用 GetApplication 查询，或稍后再跟踪",
                                    retry_after_s=5.0)
        try:
            with self._apps.changes.watching(request.application_id):
                yield from self._watch(request, context)
        finally:
            self._watch_slots.release()

    def _watch(self, request: intake_pb2.WatchApplicationRequest, context: grpc.ServicerContext) -> Iterator[intake_pb2.WatchApplicationResponse]:
        row = self._apps.get(request.application_id)
        ended = threading.Event()
        context.add_callback(lambda: self._apps.changes.end(ended))
        last = -1
        while context.is_active() and not ended.is_set():
            seen = self._apps.changes.version(row.application_id)
            for event in self._apps.events_after(row.application_id, last):
                last = event.sequence
                row = self._apps.get(row.application_id)
                yield intake_pb2.WatchApplicationResponse(
                    sequence=event.sequence, status=event.status,  # type: ignore[arg-type]
                    step_id=event.step_id, step_status=wire_step_status(event.step_status), note=event.note,
                    at=clock.to_timestamp(event.at), application=self._apps.view(row))
            row = self._apps.get(row.application_id)
            if row.status in TERMINAL and row.last_sequence <= last:
                return
            # Woken when any replica records a change, or when the call ends (a client that
            # cancels gets its thread and its place back at once).
            self._apps.changes.wait(row.application_id, seen, self._watch_poll_s, ended)

    def WithdrawApplication(self, request: intake_pb2.WithdrawApplicationRequest, context: grpc.ServicerContext) -> intake_pb2.WithdrawApplicationResponse:
        _require_id(request.application_id)
        return intake_pb2.WithdrawApplicationResponse(application=self._apps.withdraw(request.application_id, request.reason))


def _require_id(application_id: str) -> None:
    if not application_id:
        raise InvalidArgument("必须提供申请编号", violations=[("application_id", "必须提供申请编号")])
