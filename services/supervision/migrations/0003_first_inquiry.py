"""supervision: each case's first-inquiry owner (首问负责) and the queue ticket of its visit, so the
id chain runs ticket → case → evaluation → complaint

Revision ID: supervision_0003
Revises: supervision_0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "supervision_0003"
down_revision = "supervision_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("supervision_cases") as batch:
        batch.add_column(sa.Column("first_inquiry_clerk_id", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("ticket_id", sa.String(32), nullable=False, server_default=""))
    op.create_index("ix_supervision_cases_ticket_id", "supervision_cases", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_supervision_cases_ticket_id", "supervision_cases")
    with op.batch_alter_table("supervision_cases") as batch:
        batch.drop_column("ticket_id")
        batch.drop_column("first_inquiry_clerk_id")
