"""Intake's own tables: applications, their status history, and the outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hall.v1 import common_pb2
from services.runtime.db import Base, UTCDateTime
from services.runtime.outbox import OutboxMixin


class ApplicationRow(Base):
    __tablename__ = "intake_applications"

    application_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128), unique=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[str] = mapped_column(String(40), unique=True)
    matter_code: Mapped[str] = mapped_column(String(64))
    bundle_code: Mapped[str] = mapped_column(String(64))
    catalogue_version: Mapped[str] = mapped_column(String(32))
    applicant: Mapped[bytes] = mapped_column(LargeBinary)  # hall.v1.Applicant
    clerk_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)  # hall.v1.ApplicationStatus
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    promised_by: Mapped[datetime] = mapped_column(UTCDateTime)
    # Counted over a year the official calendar did not hold (Mondays to Fridays): recomputed
    # once it does (Applications.recompute_provisional).
    promised_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    last_sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    snapshot: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # hall.v1.CaseStatusChanged
    # When the applicant asked to withdraw: the withdrawal is sent once; asking again answers
    # the application as it stands until the router confirms it.
    withdrawal_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The visit's queue ticket, and its first caller: the case's first-inquiry owner (首问负责).
    ticket_id: Mapped[str] = mapped_column(String(32), default="", server_default="")
    ticket_number: Mapped[str] = mapped_column(String(8), default="", server_default="")
    first_inquiry_clerk_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    # What it owes at the window, priced at acceptance (fees keeps the bill).
    fees_due_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ApplicationEventRow(Base):
    __tablename__ = "intake_application_events"
    __table_args__ = (UniqueConstraint("application_id", "sequence", name="uq_intake_event_seq"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    # (looked up through uq_intake_event_seq, whose first column it is: no index of its own)
    application_id: Mapped[str] = mapped_column(ForeignKey("intake_applications.application_id"))
    sequence: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(64))
    step_status: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class IntakeOutbox(OutboxMixin, Base):
    __tablename__ = "intake_outbox"


def stored_step_status(status: int) -> str:
    """hall.v1.StepStatus as the events table keeps it: its name ("" for none)."""
    return common_pb2.StepStatus.Name(status) if status else ""  # type: ignore[arg-type]


def wire_step_status(stored: str) -> common_pb2.StepStatus.ValueType:
    """The stored name back as hall.v1.StepStatus (a row from before the enum: unspecified)."""
    try:
        return common_pb2.StepStatus.Value(stored) if stored else common_pb2.STEP_STATUS_UNSPECIFIED
    except ValueError:
        return common_pb2.STEP_STATUS_UNSPECIFIED
