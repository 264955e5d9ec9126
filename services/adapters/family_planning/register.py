"""The birth registration register."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UTCDateTime


class RegisterBase(DeclarativeBase):
    pass


class BirthRegistration(RegisterBase):
    __tablename__ = "family_planning_registrations"
    __table_args__ = (UniqueConstraint("applicant_id", "child_order", name="uq_family_planning_child"),)

    registration_number: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40), unique=True)
    applicant_id: Mapped[str] = mapped_column(String(18))
    spouse_id: Mapped[str] = mapped_column(String(18))
    child_order: Mapped[int] = mapped_column(Integer)
    policy_basis: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
