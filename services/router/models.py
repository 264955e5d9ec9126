"""The router's own tables: cases, steps, processed message ids, outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hall.v1 import common_pb2
from services.runtime.db import Base, UTCDateTime
from services.runtime.outbox import OutboxMixin

# Step statuses as the router stores them; hall.v1.StepStatus on the wire (WIRE_STATUS).
PENDING = "pending"
DISPATCHED = "dispatched"
APPROVED = "approved"
REFUSED = "refused"
CANCELLED = "cancelled"
INCIDENT = "incident"
STEP_ENDED = {APPROVED, REFUSED, CANCELLED}
WIRE_STATUS = {PENDING: common_pb2.STEP_STATUS_PENDING, DISPATCHED: common_pb2.STEP_STATUS_DISPATCHED,
               APPROVED: common_pb2.STEP_STATUS_APPROVED, REFUSED: common_pb2.STEP_STATUS_REFUSED,
               CANCELLED: common_pb2.STEP_STATUS_CANCELLED, INCIDENT: common_pb2.STEP_STATUS_INCIDENT}


class CaseRow(Base):
    __tablename__ = "router_cases"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(40))
    matter_code: Mapped[str] = mapped_column(String(64))
    bundle_code: Mapped[str] = mapped_column(String(64))
    catalogue_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[int] = mapped_column(Integer)  # hall.v1.CaseStatus
    event_seq: Mapped[int] = mapped_column(BigInteger)
    submitted: Mapped[bytes] = mapped_column(LargeBinary)  # hall.v1.CaseSubmitted
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # What the case owes and when it is paid (hall.v1.PaymentStage; 0: nothing due), and the
    # receipt that paid it: a case owing before acceptance or before handover waits for it.
    payment_stage: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    payment_due_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    paid_receipt: Mapped[str] = mapped_column(String(40), default="", server_default="")


class StepRow(Base):
    __tablename__ = "router_steps"

    case_id: Mapped[str] = mapped_column(ForeignKey("router_cases.case_id"), primary_key=True)
    step_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    department: Mapped[str] = mapped_column(String(64))
    matter_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    request_message_id: Mapped[str] = mapped_column(String(128))
    results: Mapped[dict[str, Any]] = mapped_column(JSON)
    reasons: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    last_error: Mapped[str] = mapped_column(Text)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The plan as accepted (pinned to the case's catalogue version): steps this one waits for,
    # and its limit in working days.
    after: Mapped[list[str]] = mapped_column(JSON, default=list)
    limit_days: Mapped[int] = mapped_column(Integer, default=0)
    # The first dispatch: the step's time limit runs from then (supervision keeps the ledger).
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Who decided the step at its department (the exchange tables' "officer").
    officer_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # The attempt count when an operator last retried the step (RetryIncident; 0: never): the
    # attempts since then count against ROUTER_MAX_ATTEMPTS.
    retried_after: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ProcessedMessage(Base):
    """Message ids already handled: a redelivered message changes nothing."""

    __tablename__ = "router_processed_messages"

    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RouterOutbox(OutboxMixin, Base):
    __tablename__ = "router_outbox"
