"""Fees' own tables: bills (one per accepted application, priced then), payments, receipts (payments
and reversals, append-only) and the gapless receipt-number counter. `fees_receipts` holds the
receipts of the version before payments (one per completed case), kept as they were issued."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from services.runtime.db import Base, UTCDateTime
from services.runtime.outbox import OutboxMixin


class LegacyReceiptRow(Base):
    __tablename__ = "fees_receipts"

    application_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    receipt_number: Mapped[str] = mapped_column(String(40), unique=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    matter_code: Mapped[str] = mapped_column(String(64))
    bundle_code: Mapped[str] = mapped_column(String(64))
    payer_name: Mapped[str] = mapped_column(String(200))
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verification_code: Mapped[str] = mapped_column(String(64))


class ReceiptCounter(Base):
    """One row per year; incremented in the receipt's own transaction, so numbers have no gaps."""

    __tablename__ = "fees_receipt_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger)


class BillRow(Base):
    """What an application owes, priced when it was accepted (the catalogue version of then)."""

    __tablename__ = "fees_bills"

    application_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    catalogue_version: Mapped[str] = mapped_column(String(32))
    payer_name: Mapped[str] = mapped_column(String(200))
    quote: Mapped[bytes] = mapped_column(LargeBinary)  # hall.v1.QuoteResponse
    total_fen: Mapped[int] = mapped_column(BigInteger)
    payment_stage: Mapped[int] = mapped_column(Integer)  # hall.v1.PaymentStage
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The case ended without its certificates (withdrawn, refused): it takes no payment.
    ended: Mapped[str] = mapped_column(String(16), default="", server_default="")


class PaymentRow(Base):
    __tablename__ = "fees_payments"

    client_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    # The unique key refuses a second payment of one application whatever its client key.
    application_id: Mapped[str] = mapped_column(String(40), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    receipt_number: Mapped[str] = mapped_column(String(40))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IssuedReceiptRow(Base):
    """A receipt as issued (payment or reversal); never updated, never deleted."""

    __tablename__ = "fees_issued_receipts"

    receipt_number: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[int] = mapped_column(Integer)  # hall.v1.ReceiptKind
    application_id: Mapped[str] = mapped_column(String(40), index=True)
    reverses: Mapped[str] = mapped_column(String(40), default="", index=True)
    # A reversal's client key (a payment's is in fees_payments): a retried refund is answered again.
    client_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    day: Mapped[str] = mapped_column(String(10), index=True)  # Shanghai, for reconciliation
    total_fen: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # hall.v1.Receipt, signed


class FeesOutbox(OutboxMixin, Base):
    """payment.received, written in the payment's transaction (the router releases a case held
    for its payment)."""

    __tablename__ = "fees_outbox"
