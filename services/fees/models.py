"""Fees' own tables: receipts and the gapless receipt-number counter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.runtime.db import Base, UTCDateTime


class ReceiptRow(Base):
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
