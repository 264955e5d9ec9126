"""supervision: cases and steps as the events tell them, procedures, extensions, notices, cards

Revision ID: supervision_0001
Revises:
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime
from services.runtime.outbox import create_outbox_table

revision = "supervision_0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "supervision_cases",
        sa.Column("case_id", sa.String(40), primary_key=True),
        sa.Column("application_id", sa.String(40), nullable=False),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("bundle_code", sa.String(64), nullable=False),
        sa.Column("catalogue_version", sa.String(32), nullable=False),
        sa.Column("accepted_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_supervision_cases_status", "supervision_cases", ["status"])
    op.create_table(
        "supervision_steps",
        sa.Column("case_id", sa.String(40), primary_key=True),
        sa.Column("step_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=True),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.Column("refused_without_reason", sa.Boolean, nullable=False),
    )
    op.create_index("ix_supervision_steps_department", "supervision_steps", ["department"])
    op.create_table(
        "supervision_procedures",
        sa.Column("procedure_id", sa.String(128), primary_key=True),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("counts", sa.Boolean, nullable=False),
        sa.Column("started_by", sa.String(64), nullable=False),
        sa.Column("ended_by", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_supervision_procedures_case_id", "supervision_procedures", ["case_id"])
    op.create_table(
        "supervision_extensions",
        sa.Column("extension_id", sa.String(40), primary_key=True),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", UTCDateTime, nullable=True),
        sa.Column("decision_note", sa.Text, nullable=False),
    )
    op.create_index("ix_supervision_extensions_case_id", "supervision_extensions", ["case_id"])
    op.create_table(
        "supervision_notices",
        sa.Column("notice_id", sa.String(160), primary_key=True),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_supervision_notices_case_id", "supervision_notices", ["case_id"])
    op.create_table(
        "supervision_cards",
        sa.Column("card_id", sa.String(160), primary_key=True),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("raised_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_supervision_cards_case_id", "supervision_cards", ["case_id"])
    op.create_index("ix_supervision_cards_department", "supervision_cards", ["department"])
    op.create_table(
        "supervision_card_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("card_id", sa.String(160), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
    )
    op.create_index("ix_supervision_card_events_card_id", "supervision_card_events", ["card_id"])
    create_outbox_table("supervision_outbox")


def downgrade() -> None:
    for table in ("supervision_outbox", "supervision_card_events", "supervision_cards", "supervision_notices",
                  "supervision_extensions", "supervision_procedures", "supervision_steps", "supervision_cases"):
        op.drop_table(table)
