"""SupervisionService over gRPC: thin; the rules are in cards.py, extensions.py and ledger.py."""

from __future__ import annotations

import grpc
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hall.v1 import supervision_pb2 as pb
from hall.v1 import supervision_pb2_grpc
from services.runtime import clock
from services.runtime.errors import InvalidArgument, NotFound
from services.supervision import cards, extensions, roles, views
from services.supervision.feed import recording
from services.supervision.models import CaseRow, ExtensionRow, NoticeRow
from services.supervision.settings import SupervisionSettings
from services.supervision.supervisor import Supervisor

_LEVEL_NAMES = {v: k for k, v in views.LEVELS.items()}
_STATE_NAMES = {v: k for k, v in views.STATES.items()}


class SupervisionServicer(supervision_pb2_grpc.SupervisionServiceServicer):
    def __init__(self, supervisor: Supervisor, sessions: sessionmaker[Session], settings: SupervisionSettings) -> None:
        self._sup = supervisor
        self._sessions = sessions
        self._settings = settings
        self._roles = roles.Roles(settings)

    def GetCaseDeadlines(self, request: pb.GetCaseDeadlinesRequest, ctx: grpc.ServicerContext) -> pb.GetCaseDeadlinesResponse:
        if not request.case_id:
            raise InvalidArgument("case_id is required", violations=[("case_id", "必须提供案件编号")])
        with self._sessions() as session:
            case = session.get(CaseRow, request.case_id)
            if case is None:
                raise NotFound(f"case {request.case_id} not known to supervision", resource_type="hall.v1.Case",
                               resource_name=request.case_id)
            c = self._sup.clocks(session, case, clock.now())
            by_id = {s.step_id: s for s in c.steps}
            found = cards.listed(session, case_id=case.case_id, limit=1000)
            histories = cards.history(session, [x.card_id for x in found])
            resp = pb.GetCaseDeadlinesResponse(
                case_id=case.case_id, catalogue_version=case.catalogue_version,
                case_deadline=views.deadline(c.ledger, late="" in c.late),
                steps=[views.deadline(ledger, step_id=sid, department=by_id[sid].department, late=sid in c.late)
                       for sid, ledger in c.step_ledgers.items()],
                cards=[views.card(x, histories[x.card_id]) for x in found],
                notices=[views.notice(n) for n in session.scalars(
                    select(NoticeRow).where(NoticeRow.case_id == case.case_id).order_by(NoticeRow.at))],
                extensions=[views.extension(e) for e in session.scalars(
                    select(ExtensionRow).where(ExtensionRow.case_id == case.case_id)
                    .order_by(ExtensionRow.requested_at))])
            resp.accepted_at.CopyFrom(clock.to_timestamp(case.accepted_at))
            return resp

    def ListCards(self, request: pb.ListCardsRequest, ctx: grpc.ServicerContext) -> pb.ListCardsResponse:
        if request.limit < 0 or request.limit > 1000:
            raise InvalidArgument("limit is 0..1000", violations=[("limit", "每次最多返回1000张")])
        with self._sessions() as session:
            found = cards.listed(session, department=request.department,
                                 level=_LEVEL_NAMES.get(request.level, ""), state=_STATE_NAMES.get(request.state, ""),
                                 case_id=request.case_id, limit=request.limit or 100)
            histories = cards.history(session, [x.card_id for x in found])
            return pb.ListCardsResponse(cards=[views.card(x, histories[x.card_id]) for x in found])

    def _card_reply(self, session: Session, row: cards.CardRow) -> pb.Card:
        return views.card(row, cards.history(session, [row.card_id])[row.card_id])

    def AppealCard(self, request: pb.AppealCardRequest, ctx: grpc.ServicerContext) -> pb.AppealCardResponse:
        with recording(self._sessions) as feed:
            session = feed.session
            row = cards.appeal(session, self._sup.outbox, feed, request.card_id, department=request.department,
                               officer_id=request.officer_id, reason=request.reason, evidence=list(request.evidence))
            return pb.AppealCardResponse(card=self._card_reply(session, row))

    def DecideAppeal(self, request: pb.DecideAppealRequest, ctx: grpc.ServicerContext) -> pb.DecideAppealResponse:
        self._roles.require(request.supervisor_id, roles.SUPERVISOR, "supervisor_id")
        with recording(self._sessions) as feed:
            session = feed.session
            row = cards.decide_appeal(session, self._sup.outbox, feed, request.card_id, supervisor_id=request.supervisor_id,
                                      withdraw=request.withdraw, note=request.note)
            return pb.DecideAppealResponse(card=self._card_reply(session, row))

    def RequestExtension(self, request: pb.RequestExtensionRequest, ctx: grpc.ServicerContext) -> pb.RequestExtensionResponse:
        with recording(self._sessions) as feed:
            session = feed.session
            row = extensions.request(session, self._sup, feed, case_id=request.case_id, step_id=request.step_id,
                                     department=request.department, officer_id=request.officer_id,
                                     reason=request.reason)
            return pb.RequestExtensionResponse(extension=views.extension(row))

    def DecideExtension(self, request: pb.DecideExtensionRequest, ctx: grpc.ServicerContext) -> pb.DecideExtensionResponse:
        self._roles.require(request.head_id, roles.HEAD, "head_id")
        with recording(self._sessions) as feed:
            session = feed.session
            row = extensions.decide(session, self._sup, feed, extension_id=request.extension_id, head_id=request.head_id,
                                    approve=request.approve, note=request.note)
            return pb.DecideExtensionResponse(extension=views.extension(row))
