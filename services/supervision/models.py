"""Supervision's own tables: what it has learned of each case and step from the events, the
special procedures, extensions, applicant notices, and the cards with their history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.runtime.db import Base, UTCDateTime
from services.runtime.outbox import OutboxMixin


class CaseRow(Base):
    __tablename__ = "supervision_cases"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(40))
    matter_code: Mapped[str] = mapped_column(String(64))
    bundle_code: Mapped[str] = mapped_column(String(64))
    catalogue_version: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[int] = mapped_column(Integer, index=True)  # hall.v1.CaseStatus
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The router's event sequence last applied: an older or repeated event changes nothing.
    last_seq: Mapped[int] = mapped_column(BigInteger)
    clerk_id: Mapped[str] = mapped_column(String(64), default="")
    # 首问负责: the clerk who first called the visit's ticket (else the accepting clerk), and the ticket.
    first_inquiry_clerk_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    ticket_id: Mapped[str] = mapped_column(String(32), default="", server_default="", index=True)
    # Supervision holds personal data masked only (services/domain/masking.py).
    applicant_kind: Mapped[int] = mapped_column(Integer, default=0)
    applicant_name_masked: Mapped[str] = mapped_column(String(200), default="")
    applicant_id_masked: Mapped[str] = mapped_column(String(40), default="")
    results: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)


class StepRow(Base):
    __tablename__ = "supervision_steps"

    case_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    step_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    department: Mapped[str] = mapped_column(String(64), index=True)
    matter_code: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)  # hall.v1.StepStatus
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    refused_without_reason: Mapped[bool] = mapped_column(Boolean, default=False)
    officer_id: Mapped[str] = mapped_column(String(64), default="")
    results: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    reasons: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class ProcedureRow(Base):
    __tablename__ = "supervision_procedures"

    procedure_id: Mapped[str] = mapped_column(String(128), primary_key=True)  # the desk's
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    step_id: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text, default="")
    # The catalogue's counts_toward_limit for this kind of procedure of the step's matter.
    counts: Mapped[bool] = mapped_column(Boolean)
    started_by: Mapped[str] = mapped_column(String(64))
    ended_by: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ExtensionRow(Base):
    __tablename__ = "supervision_extensions"

    extension_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    step_id: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))  # requested | approved | refused | late
    amount: Mapped[int] = mapped_column(Integer)
    decided_by: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class NoticeRow(Base):
    __tablename__ = "supervision_notices"

    notice_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    step_id: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # special_procedure | extension
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class CardRow(Base):
    """One card per level, per case and per step: the primary key makes a card raised once, by
    whichever replica's event handler or sweep commits it first."""

    __tablename__ = "supervision_cards"

    card_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    step_id: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64), index=True)
    level: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # open | appealed | withdrawn
    explanation: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "" for a case's or a step's card; complaint:<id> or rectification:<id>.
    subject: Mapped[str] = mapped_column(String(80), default="")


class CardEventRow(Base):
    """A card's history: raised, appealed, withdrawn or upheld; never updated."""

    __tablename__ = "supervision_card_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    card_id: Mapped[str] = mapped_column(String(160), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    text: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[str]] = mapped_column(JSON, default=list)


class SupervisionOutbox(OutboxMixin, Base):
    __tablename__ = "supervision_outbox"


class FeedRow(Base):
    """The hall's feed: one row per fact, numbered by supervision_feed_head (services/supervision/feed.py)."""

    __tablename__ = "supervision_feed"

    cursor: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[int] = mapped_column(Integer)  # hall.v1.FeedKind
    case_id: Mapped[str] = mapped_column(String(40))
    step_id: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    departments: Mapped[str] = mapped_column(String(400))
    matter_code: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)  # hall.v1.CardLevel
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ref_id: Mapped[str] = mapped_column(String(160))


class FeedHeadRow(Base):
    __tablename__ = "supervision_feed_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(BigInteger)


class EvaluationRow(Base):
    __tablename__ = "supervision_evaluations"

    evaluation_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    rated: Mapped[str] = mapped_column(String(120), unique=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    visit_id: Mapped[str] = mapped_column(String(80))
    level: Mapped[int] = mapped_column(Integer)  # hall.v1.Satisfaction
    channel: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text)
    evaluator: Mapped[str] = mapped_column(String(200))  # never shown to a department
    clerk_id: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[int] = mapped_column(Integer)  # hall.v1.EvaluationState
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    called_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    called_back_by: Mapped[str] = mapped_column(String(64), default="")
    callback_note: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    done_by: Mapped[str] = mapped_column(String(64), default="")
    done_note: Mapped[str] = mapped_column(Text, default="")
    appeal_reason: Mapped[str] = mapped_column(Text, default="")
    appeal_evidence: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    decision_note: Mapped[str] = mapped_column(Text, default="")


class ComplaintRow(Base):
    __tablename__ = "supervision_complaints"

    complaint_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(80), unique=True)
    target: Mapped[int] = mapped_column(Integer)  # hall.v1.ComplaintTarget
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    department: Mapped[str] = mapped_column(String(64), index=True)
    clerk_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    complainant: Mapped[str] = mapped_column(String(200))  # never shown to a department
    state: Mapped[int] = mapped_column(Integer)  # hall.v1.ComplaintState
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str] = mapped_column(String(64), default="")
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    satisfied: Mapped[bool] = mapped_column(Boolean, default=False)
    response: Mapped[str] = mapped_column(Text, default="")
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    evaluation_id: Mapped[str] = mapped_column(String(40), index=True)
    ticket_id: Mapped[str] = mapped_column(String(80), index=True)
