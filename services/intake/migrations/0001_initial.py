"""intake: applications, events, outbox

Revision ID: intake_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime
from services.runtime.outbox import create_outbox_table

revision = "intake_0001"
down_revision = None
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "intake_applications",
        sa.Column("application_id", sa.String(40), primary_key=True),
        sa.Column("request_id", sa.String(128), nullable=False, unique=True),
        sa.Column("request_fingerprint", sa.String(64), nullable=False),
        sa.Column("case_id", sa.String(40), nullable=False, unique=True),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("bundle_code", sa.String(64), nullable=False),
        sa.Column("catalogue_version", sa.String(32), nullable=False),
        sa.Column("applicant", sa.LargeBinary, nullable=False),
        sa.Column("clerk_id", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("accepted_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("promised_by", UTCDateTime, nullable=False),
        sa.Column("last_sequence", sa.BigInteger, nullable=False),
        sa.Column("snapshot", sa.LargeBinary, nullable=True),
    )
    op.create_table(
        "intake_application_events",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("application_id", sa.String(40), sa.ForeignKey("intake_applications.application_id"), nullable=False),
        sa.Column("sequence", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("step_status", sa.String(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("application_id", "sequence", name="uq_intake_event_seq"),
    )
    op.create_index("ix_intake_application_events_application_id", "intake_application_events", ["application_id"])
    create_outbox_table("intake_outbox")


def downgrade() -> None:
    op.drop_table("intake_outbox")
    op.drop_table("intake_application_events")
    op.drop_table("intake_applications")
