"""InspectionService over gRPC: the feed, reports, the exchange export, evaluations and
complaints. Thin: the rules are in feed.py, reports.py, exchange.py, evaluations.py and
complaints.py; who holds a role, in roles.py."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import grpc
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import inspection_pb2 as ipb
from hall.v1 import inspection_pb2_grpc
from services.runtime.errors import InvalidArgument, ResourceExhausted
from services.supervision import complaints, evaluations, exchange, feed, reports, roles
from services.supervision.feed import Feed
from services.supervision.settings import SupervisionSettings
from services.supervision.supervisor import Supervisor

R = TypeVar("R")


class InspectionServicer(inspection_pb2_grpc.InspectionServiceServicer):
    def __init__(self, supervisor: Supervisor, sessions: sessionmaker[Session], settings: SupervisionSettings) -> None:
        self._sup = supervisor
        self._sessions = sessions
        self._settings = settings
        self._roles = roles.Roles(settings)
        self._watches = threading.BoundedSemaphore(settings.max_feed_watches)

    # ---- the feed ----------------------------------------------------------------------------
    def WatchFeed(self, request: ipb.WatchFeedRequest, ctx: grpc.ServicerContext) -> Iterator[ipb.WatchFeedResponse]:
        if request.after < 0 or request.last < 0 or request.last > 1000:
            raise InvalidArgument("after is a cursor (0: from the start); last is 0..1000",
                                  violations=[("after", "游标不能为负数"), ("last", "最多1000条")])
        if not self._watches.acquire(blocking=False):
            raise ResourceExhausted("too many open feeds", retry_after_s=5)
        try:
            after = request.after
            if request.last:
                with self._sessions() as session:
                    after = feed.cursor_before_last(session, request.last, department=request.department,
                                                    matter_code=request.matter_code, min_level=request.min_level)
            while True:
                generation = feed.WAKE.generation
                with self._sessions() as session:
                    rows = feed.read(session, after, department=request.department, matter_code=request.matter_code,
                                     min_level=request.min_level)
                for row in rows:
                    yield ipb.WatchFeedResponse(entry=feed.entry(row))
                    after = row.cursor
                if len(rows) == 200:
                    continue  # more waiting: read on at once
                if not request.follow or (ctx is not None and not ctx.is_active()):
                    return
                feed.WAKE.wait(generation, feed.POLL_S)
        finally:
            self._watches.release()

    # ---- reports and the export --------------------------------------------------------------
    def GetReport(self, request: ipb.GetReportRequest, ctx: grpc.ServicerContext) -> ipb.GetReportResponse:
        with self._sessions() as session:
            return reports.report(session, self._sup, request, self._settings.targets)

    def ExportExchange(self, request: ipb.ExportExchangeRequest, ctx: grpc.ServicerContext) -> ipb.ExportExchangeResponse:
        with self._sessions() as session:
            return exchange.export(session, self._sup, request)

    # ---- evaluations -------------------------------------------------------------------------
    def _write(self, work: Callable[[Session, Feed], R]) -> R:
        with feed.recording(self._sessions) as f:
            return work(f.session, f)

    def _is_supervisor(self, named: str) -> bool:
        return self._roles.has(self._roles.actor(named), roles.SUPERVISOR)

    def Evaluate(self, request: ipb.EvaluateRequest, ctx: grpc.ServicerContext) -> ipb.EvaluateResponse:
        row, replayed = self._write(lambda s, f: evaluations.evaluate(s, self._sup.outbox, f, request))
        return ipb.EvaluateResponse(evaluation=evaluations.view(row, show_evaluator=False), replayed=replayed)

    def ListEvaluations(self, request: ipb.ListEvaluationsRequest, ctx: grpc.ServicerContext) -> ipb.ListEvaluationsResponse:
        show = self._is_supervisor(request.viewer_id)
        with self._sessions() as session:
            rows = evaluations.listed(session, case_id=request.case_id,
                                      department=request.department if request.department else None,
                                      state=request.state, limit=min(request.limit or 100, 1000))
            return ipb.ListEvaluationsResponse(evaluations=[evaluations.view(r, show_evaluator=show) for r in rows])

    def RecordCallback(self, request: ipb.RecordCallbackRequest, ctx: grpc.ServicerContext) -> ipb.RecordCallbackResponse:
        row = self._write(lambda s, f: evaluations.callback(s, self._sup.outbox, f, request.evaluation_id,
                                                            officer_id=request.officer_id, note=request.note))
        return ipb.RecordCallbackResponse(evaluation=evaluations.view(row, show_evaluator=False))

    def CompleteRectification(self, request: ipb.CompleteRectificationRequest,
                              ctx: grpc.ServicerContext) -> ipb.CompleteRectificationResponse:
        row = self._write(lambda s, f: evaluations.complete(s, self._sup.outbox, f, request.evaluation_id,
                                                            department=request.department,
                                                            officer_id=request.officer_id, note=request.note))
        return ipb.CompleteRectificationResponse(evaluation=evaluations.view(row, show_evaluator=False))

    def AppealEvaluation(self, request: ipb.AppealEvaluationRequest,
                         ctx: grpc.ServicerContext) -> ipb.AppealEvaluationResponse:
        row = self._write(lambda s, f: evaluations.appeal(s, self._sup.outbox, f, request.evaluation_id,
                                                          department=request.department, officer_id=request.officer_id,
                                                          reason=request.reason, evidence=list(request.evidence)))
        return ipb.AppealEvaluationResponse(evaluation=evaluations.view(row, show_evaluator=False))

    def DecideEvaluationAppeal(self, request: ipb.DecideEvaluationAppealRequest,
                               ctx: grpc.ServicerContext) -> ipb.DecideEvaluationAppealResponse:
        self._roles.require(request.supervisor_id, roles.SUPERVISOR, "supervisor_id")
        row = self._write(lambda s, f: evaluations.decide_appeal(s, self._sup.outbox, f, request.evaluation_id,
                                                                 supervisor_id=request.supervisor_id,
                                                                 annul=request.annul, note=request.note))
        return ipb.DecideEvaluationAppealResponse(evaluation=evaluations.view(row, show_evaluator=True))

    # ---- complaints --------------------------------------------------------------------------
    def FileComplaint(self, request: ipb.FileComplaintRequest, ctx: grpc.ServicerContext) -> ipb.FileComplaintResponse:
        departments = {code: d.name for code, d in self._sup.current.departments.items()}
        row, _ = self._write(lambda s, f: complaints.file(s, self._sup.outbox, f, request, departments))
        return ipb.FileComplaintResponse(complaint=complaints.view(row))

    def AnswerComplaint(self, request: ipb.AnswerComplaintRequest, ctx: grpc.ServicerContext) -> ipb.AnswerComplaintResponse:
        row = self._write(lambda s, f: complaints.answer(s, self._sup.outbox, f, request.complaint_id,
                                                         department=request.department, officer_id=request.officer_id,
                                                         text=request.text))
        return ipb.AnswerComplaintResponse(complaint=complaints.view(row))

    def RecordComplainantReply(self, request: ipb.RecordComplainantReplyRequest,
                               ctx: grpc.ServicerContext) -> ipb.RecordComplainantReplyResponse:
        row = self._write(lambda s, f: complaints.reply(s, self._sup.outbox, f, request.complaint_id,
                                                        satisfied=request.satisfied, text=request.text,
                                                        recorded_by=request.recorded_by))
        return ipb.RecordComplainantReplyResponse(complaint=complaints.view(row))

    def ListComplaints(self, request: ipb.ListComplaintsRequest, ctx: grpc.ServicerContext) -> ipb.ListComplaintsResponse:
        with self._sessions() as session:
            rows = complaints.listed(session, department=request.department if request.department else None,
                                     state=request.state, case_id=request.case_id,
                                     limit=min(request.limit or 100, 1000))
            return ipb.ListComplaintsResponse(complaints=[complaints.view(r) for r in rows])

    def GetChain(self, request: ipb.GetChainRequest, ctx: grpc.ServicerContext) -> ipb.GetChainResponse:
        if not (request.ticket_id or request.case_id or request.evaluation_id or request.complaint_id):
            raise InvalidArgument("one id is required", violations=[("case_id", "须提供排队号、案件、评价或投诉编号之一")])
        with self._sessions() as session:
            return complaints.chain(session, ticket_id=request.ticket_id, case_id=request.case_id,
                                    evaluation_id=request.evaluation_id, complaint_id=request.complaint_id)
