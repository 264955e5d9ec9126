"""intake: queue tickets (排队叫号) and their day counters, one-time notices (一次性告知书), and the
ticket and first-inquiry owner (首问负责) of each application

Revision ID: intake_0005
Revises: intake_0004
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime

revision = "intake_0005"
down_revision = "intake_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_tickets",
        sa.Column("ticket_id", sa.String(32), primary_key=True),
        sa.Column("request_id", sa.String(128), nullable=False, unique=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("window_group", sa.String(1), nullable=False),
        sa.Column("serial", sa.Integer, nullable=False),
        sa.Column("number", sa.String(8), nullable=False),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("bundle_code", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("taken_at", UTCDateTime, nullable=False),
        sa.Column("window_id", sa.String(16), nullable=False),
        sa.Column("called_at", UTCDateTime, nullable=True),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("first_clerk_id", sa.String(64), nullable=False),
        sa.Column("first_called_at", UTCDateTime, nullable=True),
        sa.Column("transferred_at", UTCDateTime, nullable=True),
        sa.Column("transfers", sa.Integer, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.UniqueConstraint("day", "number", name="uq_queue_ticket_number"),
    )
    # The next ticket of a group today, and the board's reads of the day.
    op.create_index("ix_queue_tickets_day_status", "queue_tickets", ["day", "window_group", "status"])
    op.create_table(
        "queue_counters",
        sa.Column("key", sa.String(16), primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    op.create_table(
        "intake_notices",
        sa.Column("notice_id", sa.String(32), primary_key=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_intake_notices_request_id", "intake_notices", ["request_id"])
    with op.batch_alter_table("intake_applications") as batch:
        batch.add_column(sa.Column("ticket_id", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("ticket_number", sa.String(8), nullable=False, server_default=""))
        batch.add_column(sa.Column("first_inquiry_clerk_id", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("intake_applications") as batch:
        batch.drop_column("first_inquiry_clerk_id")
        batch.drop_column("ticket_number")
        batch.drop_column("ticket_id")
    op.drop_table("intake_notices")
    op.drop_table("queue_counters")
    op.drop_table("queue_tickets")
