"""The planning register: parcels with their planning conditions, and permits issued."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.runtime.db import UTCDateTime


class RegisterBase(DeclarativeBase):
    pass


class Parcel(RegisterBase):
    __tablename__ = "planning_parcels"

    parcel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    zone_name: Mapped[str] = mapped_column(String(200))
    land_use: Mapped[str] = mapped_column(String(8))  # GB 50137 code: R2, B1, M1, G1 ...
    max_plot_ratio_x100: Mapped[int] = mapped_column(Integer)
    max_height_cm: Mapped[int] = mapped_column(Integer)


class Permit(RegisterBase):
    __tablename__ = "planning_permits"

    permit_number: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(40), unique=True)
    parcel_id: Mapped[str] = mapped_column(String(32))
    project_name: Mapped[str] = mapped_column(String(200))
    builder_name: Mapped[str] = mapped_column(String(200))
    plot_ratio_x100: Mapped[int] = mapped_column(Integer)
    height_cm: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
