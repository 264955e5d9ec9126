"""router: plan pinned in the steps; overdue reporting

Revision ID: router_0002
Revises: router_0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime

revision = "router_0002"
down_revision = "router_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("router_steps") as batch:
        batch.add_column(sa.Column("after", sa.JSON, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("limit_days", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("overdue_reported_at", UTCDateTime, nullable=True))
    op.create_index("ix_router_steps_due", "router_steps", ["due_at"],
                    postgresql_where=sa.text("status = 'dispatched' AND overdue_reported_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_router_steps_due", "router_steps")
    with op.batch_alter_table("router_steps") as batch:
        batch.drop_column("overdue_reported_at")
        batch.drop_column("limit_days")
        batch.drop_column("after")
