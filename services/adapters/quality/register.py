"""The organisation-code register."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UTCDateTime


class RegisterBase(DeclarativeBase):
    pass


class Certificate(RegisterBase):
    __tablename__ = "quality_certificates"

    org_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    company_name: Mapped[str] = mapped_column(String(200))
    certificate_number: Mapped[str] = mapped_column(String(40), unique=True)
    case_id: Mapped[str] = mapped_column(String(40), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
