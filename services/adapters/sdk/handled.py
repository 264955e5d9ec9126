"""The SDK's own table in every adapter's register: each request answered, and each cancel.

It de-duplicates by message id and keeps the answer, so a redelivered request is answered again
with the same decision instead of being decided twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, MetaData, String, Table
from sqlalchemy.orm import Session

from services.runtime.db import UTCDateTime


def handled_table(code: str, metadata: MetaData | None = None) -> Table:
    return Table(
        f"{code}_handled", metadata or MetaData(),
        Column("message_id", String(128), primary_key=True),
        Column("case_id", String(40), nullable=False, index=True),
        Column("step_id", String(64), nullable=False),
        Column("kind", String(16), nullable=False),  # decided | cancelled
        Column("decision", LargeBinary, nullable=True),
        Column("at", UTCDateTime, nullable=False),
    )


def create_handled_table(code: str) -> None:
    """Alembic step for an adapter's first revision."""
    from alembic import op

    table = handled_table(code)
    op.create_table(table.name, *[c.copy() for c in table.columns])
    op.create_index(f"ix_{code}_handled_case", table.name, ["case_id", "step_id"])


class Handled:
    def __init__(self, code: str) -> None:
        self.table = handled_table(code)

    def answer_for(self, session: Session, message_id: str) -> bytes | None:
        row = session.execute(self.table.select().where(self.table.c.message_id == message_id)).first()
        return row.decision if row is not None else None

    def is_cancelled(self, session: Session, case_id: str, step_id: str) -> bool:
        t = self.table
        row = session.execute(t.select().where(t.c.case_id == case_id, t.c.step_id == step_id, t.c.kind == "cancelled")).first()
        return row is not None

    def record(self, session: Session, *, message_id: str, case_id: str, step_id: str, kind: str,
               decision: bytes | None, at: datetime) -> None:
        session.execute(self.table.insert().values(message_id=message_id, case_id=case_id, step_id=step_id,
                                                   kind=kind, decision=decision, at=at))
