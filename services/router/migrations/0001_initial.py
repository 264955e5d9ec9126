"""router: cases, steps, processed messages, outbox

Revision ID: router_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime
from services.runtime.outbox import create_outbox_table

revision = "router_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "router_cases",
        sa.Column("case_id", sa.String(40), primary_key=True),
        sa.Column("application_id", sa.String(40), nullable=False),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("bundle_code", sa.String(64), nullable=False),
        sa.Column("catalogue_version", sa.String(32), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("event_seq", sa.BigInteger, nullable=False),
        sa.Column("submitted", sa.LargeBinary, nullable=False),
        sa.Column("results", sa.JSON, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "router_steps",
        sa.Column("case_id", sa.String(40), sa.ForeignKey("router_cases.case_id"), primary_key=True),
        sa.Column("step_id", sa.String(64), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("request_message_id", sa.String(128), nullable=False),
        sa.Column("results", sa.JSON, nullable=False),
        sa.Column("reasons", sa.JSON, nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("dispatched_at", UTCDateTime, nullable=True),
        sa.Column("decided_at", UTCDateTime, nullable=True),
        sa.Column("due_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_router_steps_status", "router_steps", ["status"])
    op.create_table(
        "router_processed_messages",
        sa.Column("message_id", sa.String(128), primary_key=True),
        sa.Column("processed_at", UTCDateTime, nullable=False),
    )
    create_outbox_table("router_outbox")


def downgrade() -> None:
    op.drop_table("router_outbox")
    op.drop_table("router_processed_messages")
    op.drop_table("router_steps")
    op.drop_table("router_cases")
