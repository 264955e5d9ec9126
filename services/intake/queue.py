"""Queue ticketing (排队叫号): tickets per window group and day, called at the group's windows.

The rules:
- numbers run per group and day (the number a ticket was issued with is unique that day; a transfer keeps it) (Asia/Shanghai) from 1, gapless (db.next_number: a rolled-back
  take gives its number back), printed with the group's letter: A001;
- a window calls its own group's tickets: transferred-in tickets first (they waited once already),
  then by number; two windows calling at once never get the same ticket (the row is locked and
  skipped by the other, FOR UPDATE SKIP LOCKED on PostgreSQL);
- calling the next ticket finishes the window's current one (served);
- the clerk who first calls a ticket is its first-inquiry owner (首问负责), for good: a transfer
  keeps it, and the case accepted with the ticket carries it;
- a ticket of an earlier day is never called (the queue starts empty each morning).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Index, Integer, String, Table, UniqueConstraint, Update, bindparam, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from hall.v1 import catalogue_pb2, queue_pb2
from services.catalogue import Catalogue
from services.runtime import auth, clock, context, db
from services.runtime.db import Base, UTCDateTime
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied

T = queue_pb2.TicketStatus
# A window counts as open for the estimate when it called a ticket within this time.
OPEN_WINDOW = timedelta(hours=1)
# Today's served tickets give the service time once there are this many of them.
SERVICE_SAMPLE = 3
RECENT_CALLS = 8


class TicketRow(Base):
    __tablename__ = "queue_tickets"
    __table_args__ = (UniqueConstraint("day", "number", name="uq_queue_ticket_number"),
                      Index("ix_queue_tickets_day_status", "day", "window_group", "status"))

    ticket_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128), unique=True)
    day: Mapped[str] = mapped_column(String(10))
    group: Mapped[str] = mapped_column("window_group", String(1))
    serial: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(8))
    matter_code: Mapped[str] = mapped_column(String(64))
    bundle_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)  # hall.v1.TicketStatus
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime)
    window_id: Mapped[str] = mapped_column(String(16), default="")
    called_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    first_clerk_id: Mapped[str] = mapped_column(String(64), default="")
    first_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    transfers: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    case_id: Mapped[str] = mapped_column(String(40), default="")


class TicketCounterRow(Base):
    __tablename__ = "queue_counters"

    key: Mapped[str] = mapped_column(String(16), primary_key=True)  # "2026-12-06:A"
    last: Mapped[int] = mapped_column(Integer)


_NEXT_SERIAL = db.next_number(TicketCounterRow.__table__, "key", "last")  # type: ignore[arg-type]
_TICKETS: Table = TicketRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class CallerTicket:
    """What a case takes from its ticket."""

    ticket_id: str
    number: str
    first_clerk_id: str


class Queue:
    def __init__(self, sessions: sessionmaker[Session], catalogue: Catalogue) -> None:
        self._sessions = sessions
        self._catalogue = catalogue

    # ---- the kiosk -------------------------------------------------------------------------
    def take(self, req: queue_pb2.TakeTicketRequest) -> queue_pb2.Ticket:
        violations = []
        if not req.request_id.strip() or len(req.request_id) > 128:
            violations.append(("request_id", "必须提供请求编号（不超过128个字符）"))
        if bool(req.matter_code) == bool(req.bundle_code):
            violations.append(("matter_code", "必须且只能填写事项编码或一件事编码之一"))
        if violations:
            raise InvalidArgument("取号信息有误", violations=violations)
        if req.matter_code and req.matter_code not in self._catalogue.matters:
            raise NotFound(f"事项 {req.matter_code} 不在目录中", resource_type="hall.v1.Matter", resource_name=req.matter_code)
        if req.bundle_code and req.bundle_code not in self._catalogue.bundles:
            raise NotFound(f"一件事 {req.bundle_code} 不在目录中", resource_type="hall.v1.Bundle", resource_name=req.bundle_code)
        group = self._catalogue.window_group_of(matter_code=req.matter_code, bundle_code=req.bundle_code)
        with self._sessions() as session, session.begin():
            row = session.scalar(select(TicketRow).where(TicketRow.request_id == req.request_id))
            if row is None:
                now = clock.now()
                day = clock.local(now).date().isoformat()
                conn = session.connection()
                # Numbered last: the counter's row stays locked until commit (db.next_number).
                serial = conn.execute(_NEXT_SERIAL[conn.dialect.name], {"key": f"{day}:{group.code}"}).scalar_one()
                row = TicketRow(ticket_id=uuid.uuid4().hex, request_id=req.request_id, day=day, group=group.code,
                                serial=serial, number=f"{group.code}{serial:03d}", matter_code=req.matter_code,
                                bundle_code=req.bundle_code, status=T.TICKET_STATUS_WAITING, taken_at=now,
                                window_id="", calls=0, first_clerk_id="", transfers=0, case_id="")
                session.add(row)
                session.flush()
            return self._view(session, row)

    # ---- the window ------------------------------------------------------------------------
    def call_next(self, window_id: str, clerk_id: str) -> queue_pb2.CallNextResponse:
        group = self._window_group(window_id, clerk_id)
        context.bind(actor_id=clerk_id)
        now = clock.now()
        answer = queue_pb2.CallNextResponse()
        with self._sessions() as session, session.begin():
            for held in session.scalars(select(TicketRow).where(TicketRow.window_id == window_id,
                                                                TicketRow.status == T.TICKET_STATUS_CALLED)
                                        .with_for_update()):
                held.status, held.finished_at = T.TICKET_STATUS_SERVED, now
                answer.finished.CopyFrom(self._view(session, held))
            row = session.scalar(self._waiting(group.code, clock.local(now).date().isoformat())
                                 .limit(1).with_for_update(skip_locked=True))
            if row is not None:
                row.status, row.window_id, row.called_at, row.calls = T.TICKET_STATUS_CALLED, window_id, now, row.calls + 1
                if not row.first_clerk_id:
                    row.first_clerk_id, row.first_called_at = clerk_id, now
                session.flush()
                answer.called.CopyFrom(self._view(session, row))
        return answer

    def recall(self, ticket_id: str, window_id: str) -> queue_pb2.Ticket:
        with self._sessions() as session, session.begin():
            row = self._held(session, ticket_id, window_id)
            row.calls, row.called_at = row.calls + 1, clock.now()
            return self._view(session, row)

    def no_show(self, ticket_id: str, window_id: str) -> queue_pb2.Ticket:
        with self._sessions() as session, session.begin():
            row = self._held(session, ticket_id, window_id)
            row.status, row.finished_at = T.TICKET_STATUS_NO_SHOW, clock.now()
            return self._view(session, row)

    def transfer(self, ticket_id: str, group_code: str) -> queue_pb2.Ticket:
        group = self._catalogue.window_groups.get(group_code)
        if group is None:
            raise InvalidArgument(f"没有窗口分区 {group_code}", violations=[
                ("group", "应为以下之一：" + "、".join(f"{g.code} {g.name}" for g in self._catalogue.proto.window_groups))])
        with self._sessions() as session, session.begin():
            row = self._row(session, ticket_id, lock=True)
            if row.status not in (T.TICKET_STATUS_WAITING, T.TICKET_STATUS_CALLED):
                raise FailedPrecondition(f"票号 {row.number} 已结束，不能转窗",
                                         violations=[("TICKET_FINISHED", row.ticket_id, T.Name(row.status))])  # type: ignore[arg-type]
            if row.group == group.code:
                raise InvalidArgument(f"票号 {row.number} 已在{group.name}", violations=[("group", "请选择另一个窗口分区")])
            row.group, row.status, row.window_id = group.code, T.TICKET_STATUS_WAITING, ""
            row.transferred_at, row.transfers = clock.now(), row.transfers + 1
            session.flush()
            return self._view(session, row)

    def get(self, ticket_id: str) -> queue_pb2.Ticket:
        with self._sessions() as session:
            return self._view(session, self._row(session, ticket_id))

    # ---- the case --------------------------------------------------------------------------
    def for_case(self, ticket_id: str, *, matter_code: str, bundle_code: str) -> CallerTicket:
        """The ticket a submission names, checked: called today, in the matter's window group."""
        with self._sessions() as session:
            row = session.get(TicketRow, ticket_id)
        if row is None:
            raise FailedPrecondition(f"票号 {ticket_id} 不存在", violations=[("TICKET_UNKNOWN", ticket_id, "请核对票号")])
        if row.first_clerk_id == "" or row.status == T.TICKET_STATUS_NO_SHOW:
            raise FailedPrecondition(f"票号 {row.number} 尚未叫号或已过号",
                                     violations=[("TICKET_NOT_CALLED", ticket_id, "请先叫号")])
        if row.day != clock.today().isoformat():
            raise FailedPrecondition(f"票号 {row.number} 不是今天的号", violations=[("TICKET_EXPIRED", ticket_id, row.day)])
        group = self._catalogue.window_group_of(matter_code=matter_code, bundle_code=bundle_code)
        if row.group != group.code:
            raise FailedPrecondition(f"票号 {row.number} 不在{group.name}窗口，请先转窗",
                                     violations=[("TICKET_WRONG_GROUP", ticket_id, f"应转至 {group.code} 区")])
        # A clerk accepts at their own window: the one the ticket was called to.
        caller = auth.current()
        if caller is not None and caller.role == auth.Role.ROLE_CLERK and row.window_id \
                and row.window_id != caller.window_id:
            raise PermissionDenied(f"票号 {row.number} 叫到 {row.window_id} 窗口，不能在 {caller.window_id or '-'}"
                                   " 窗口受理（只能在本人窗口办理）", reason="OTHER_WINDOW")
        return CallerTicket(row.ticket_id, row.number, row.first_clerk_id)

    @staticmethod
    def attach_statement() -> Update:
        """UPDATE of a ticket's case id, for the submission's own transaction."""
        return (update(_TICKETS).where(_TICKETS.c.ticket_id == bindparam("k_ticket_id"))
                .values(case_id=bindparam("v_case_id", type_=_TICKETS.c.case_id.type)))

    # ---- the board ---------------------------------------------------------------------------
    def waits(self) -> list[queue_pb2.GroupWait]:
        with self._sessions() as session:
            return self._waits(session, clock.now())

    def board(self) -> queue_pb2.GetBoardResponse:
        now = clock.now()
        day = clock.local(now).date().isoformat()
        with self._sessions() as session:
            held = {r.window_id: r for r in session.scalars(
                select(TicketRow).where(TicketRow.day == day, TicketRow.status == T.TICKET_STATUS_CALLED))}
            board = queue_pb2.GetBoardResponse(groups=self._waits(session, now))
            for g in self._catalogue.proto.window_groups:
                for window in g.windows:
                    call = board.windows.add(window_id=window, group=g.code)
                    if window in held:
                        _fill_call(call, held[window])
            for r in session.scalars(select(TicketRow).where(TicketRow.day == day, TicketRow.called_at.is_not(None))
                                     .order_by(TicketRow.called_at.desc()).limit(RECENT_CALLS)):
                _fill_call(board.recent_calls.add(window_id=r.window_id, group=r.group), r)
            counts = dict(session.execute(select(TicketRow.status, func.count()).where(TicketRow.day == day)
                                          .group_by(TicketRow.status)).tuples().all())
            waited = [(r.first_called_at - r.taken_at).total_seconds() for r in session.scalars(
                select(TicketRow).where(TicketRow.day == day, TicketRow.first_called_at.is_not(None)))
                if r.first_called_at is not None]
        board.today.CopyFrom(queue_pb2.BoardFigures(
            day=day, taken=sum(counts.values()), served=counts.get(T.TICKET_STATUS_SERVED, 0),
            no_show=counts.get(T.TICKET_STATUS_NO_SHOW, 0), waiting=counts.get(T.TICKET_STATUS_WAITING, 0),
            average_wait_minutes=round(sum(waited) / len(waited) / 60) if waited else 0))
        return board

    # ---- internals -------------------------------------------------------------------------
    def _window_group(self, window_id: str, clerk_id: str) -> catalogue_pb2.WindowGroup:
        violations = []
        group = self._catalogue.group_of_window(window_id)
        if group is None:
            windows = "、".join(w for g in self._catalogue.proto.window_groups for w in g.windows)
            violations.append(("window_id", f"没有窗口 {window_id[:16]}；应为以下之一：{windows}"))
        if not clerk_id.strip() or len(clerk_id) > 64:
            violations.append(("clerk_id", "必须提供叫号的工作人员编号（不超过64个字符）"))
        if violations:
            raise InvalidArgument("叫号信息有误", violations=violations)
        assert group is not None
        return group

    @staticmethod
    def _waiting(group: str, day: str):  # type: ignore[no-untyped-def]
        # Transferred-in tickets first, in the order they came; then the group's own by number.
        return (select(TicketRow).where(TicketRow.group == group, TicketRow.day == day,
                                        TicketRow.status == T.TICKET_STATUS_WAITING)
                .order_by(TicketRow.transferred_at.is_(None), TicketRow.transferred_at, TicketRow.serial))

    def _row(self, session: Session, ticket_id: str, *, lock: bool = False) -> TicketRow:
        if not ticket_id:
            raise InvalidArgument("必须提供票号编号", violations=[("ticket_id", "必须提供票号编号")])
        row = session.get(TicketRow, ticket_id, with_for_update=lock)
        if row is None:
            raise NotFound(f"票号 {ticket_id[:32]} 不存在", resource_type="hall.v1.Ticket", resource_name=ticket_id[:32])
        return row

    def _held(self, session: Session, ticket_id: str, window_id: str) -> TicketRow:
        row = self._row(session, ticket_id, lock=True)
        if row.status != T.TICKET_STATUS_CALLED or row.window_id != window_id:
            raise FailedPrecondition(f"票号 {row.number} 不在窗口 {window_id[:16]} 办理中",
                                     violations=[("TICKET_NOT_AT_WINDOW", row.ticket_id, row.window_id or T.Name(row.status))])  # type: ignore[arg-type]
        return row

    def _waits(self, session: Session, now: datetime) -> list[queue_pb2.GroupWait]:
        day = clock.local(now).date().isoformat()
        waiting = dict(session.execute(select(TicketRow.group, func.count()).where(
            TicketRow.day == day, TicketRow.status == T.TICKET_STATUS_WAITING).group_by(TicketRow.group)).tuples().all())
        open_windows = dict(session.execute(select(TicketRow.group, func.count(TicketRow.window_id.distinct())).where(
            TicketRow.day == day, TicketRow.called_at >= now - OPEN_WINDOW).group_by(TicketRow.group)).tuples().all())
        served: dict[str, list[float]] = {}
        for r in session.scalars(select(TicketRow).where(TicketRow.day == day, TicketRow.status == T.TICKET_STATUS_SERVED)):
            if r.finished_at is not None and r.called_at is not None:
                served.setdefault(r.group, []).append((r.finished_at - r.called_at).total_seconds() / 60)
        out = []
        for g in self._catalogue.proto.window_groups:
            samples = served.get(g.code, [])
            minutes = round(sum(samples) / len(samples)) if len(samples) >= SERVICE_SAMPLE else g.typical_service_minutes
            windows = max(1, min(open_windows.get(g.code, 0), len(g.windows)))
            count = waiting.get(g.code, 0)
            out.append(queue_pb2.GroupWait(group=g.code, name=g.name, waiting=count, open_windows=windows,
                                           service_minutes=max(1, minutes),
                                           estimated_wait_minutes=estimate(count, windows, max(1, minutes))))
        return out

    def _view(self, session: Session, row: TicketRow) -> queue_pb2.Ticket:
        group = self._catalogue.window_groups[row.group]
        t = queue_pb2.Ticket(
            ticket_id=row.ticket_id, number=row.number, group=row.group, group_name=group.name,
            matter_code=row.matter_code, bundle_code=row.bundle_code, status=row.status,  # type: ignore[arg-type]
            day=row.day, taken_at=clock.to_timestamp(row.taken_at), window_id=row.window_id, calls=row.calls,
            first_inquiry_clerk_id=row.first_clerk_id, transfers=row.transfers, case_id=row.case_id)
        if row.called_at is not None:
            t.called_at.CopyFrom(clock.to_timestamp(row.called_at))
        if row.first_called_at is not None:
            t.first_called_at.CopyFrom(clock.to_timestamp(row.first_called_at))
        if row.status == T.TICKET_STATUS_WAITING:
            ahead = [r for r in session.scalars(self._waiting(row.group, row.day))]
            t.ahead = next((i for i, r in enumerate(ahead) if r.ticket_id == row.ticket_id), len(ahead))
            wait = next(w for w in self._waits(session, clock.now()) if w.group == row.group)
            t.estimated_wait_minutes = estimate(t.ahead, wait.open_windows, wait.service_minutes)
        return t


def estimate(ahead: int, windows: int, service_minutes: int) -> int:
    """Minutes until a ticket with `ahead` tickets before it is called: each open window serves
    one visit of `service_minutes` at a time, so the rounds before this ticket's."""
    return math.ceil(ahead / max(1, windows)) * service_minutes


def _fill_call(call: queue_pb2.WindowCall, row: TicketRow) -> None:
    call.ticket_number, call.calls = row.number, row.calls
    if row.called_at is not None:
        call.called_at.CopyFrom(clock.to_timestamp(row.called_at))
