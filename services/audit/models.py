"""Audit's own tables: the records and the head of their hash chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.runtime.db import Base, UTCDateTime


class RecordRow(Base):
    __tablename__ = "audit_records"
    # The inspectors' queries (SearchRecords): by actor, by department, by time.
    __table_args__ = (Index("ix_audit_records_actor_seq", "actor_id", "seq"),
                      Index("ix_audit_records_department_seq", "department", "seq"),
                      Index("ix_audit_records_started_at", "started_at"))

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(64), unique=True)
    case_id: Mapped[str] = mapped_column(String(40), index=True)
    service: Mapped[str] = mapped_column(String(64))
    kind: Mapped[int] = mapped_column(Integer)
    operation: Mapped[str] = mapped_column(String(200))
    actor_id: Mapped[str] = mapped_column(String(64))
    step_id: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_us: Mapped[int] = mapped_column(BigInteger)
    outcome: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ChainHead(Base):
    """The chain's head after each append: the newest row is the head (insert-only, so the
    service's role needs no UPDATE; appends serialise on an advisory lock)."""

    __tablename__ = "audit_chain_heads"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Checkpoint(Base):
    """A signed anchor of the chain (services/audit/evidence.py): the head at `count`, and the
    chain hash after each record since the checkpoint before (`hashes`, 64 hex digits each)."""

    __tablename__ = "audit_checkpoints"

    number: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                        autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    from_count: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    hashes: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
