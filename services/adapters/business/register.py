"""The business register: companies and the sequence behind their codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UTCDateTime


class RegisterBase(DeclarativeBase):
    pass


class Company(RegisterBase):
    __tablename__ = "business_companies"

    credit_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    licence_number: Mapped[str] = mapped_column(String(15), unique=True)
    org_code: Mapped[str] = mapped_column(String(9), unique=True)
    registered_capital_fen: Mapped[int] = mapped_column(BigInteger)
    business_scope: Mapped[str] = mapped_column(String(2000))
    legal_rep_name: Mapped[str] = mapped_column(String(100))
    legal_rep_id: Mapped[str] = mapped_column(String(18))
    address: Mapped[str] = mapped_column(String(500))
    case_id: Mapped[str] = mapped_column(String(40), unique=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # active | cancelled


class Sequence(RegisterBase):
    """Next serial number for organisation codes and registration numbers, per division."""

    __tablename__ = "business_sequences"

    division: Mapped[str] = mapped_column(String(6), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)
