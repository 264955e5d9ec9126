"""router: a step's first dispatch is kept; overdue steps are supervision's business

`started_at` is when the step was first sent to its department: its time limit runs from then
(a retry does not move it), and the router's events carry it to supervision, which keeps the
deadline ledger and raises the cards. The router no longer reports overdue steps itself, so its
`overdue_reported_at` column and the index that served the scan go. Rows written by an earlier
version get their `dispatched_at` as a best guess of the first dispatch.

Revision ID: router_0005
Revises: router_0004
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime

revision = "router_0005"
down_revision = "router_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_router_steps_due", "router_steps")
    with op.batch_alter_table("router_steps") as batch:
        batch.add_column(sa.Column("started_at", UTCDateTime, nullable=True))
        batch.drop_column("overdue_reported_at")
    op.execute("UPDATE router_steps SET started_at = dispatched_at WHERE started_at IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("router_steps") as batch:
        batch.add_column(sa.Column("overdue_reported_at", UTCDateTime, nullable=True))
        batch.drop_column("started_at")
    op.create_index("ix_router_steps_due", "router_steps", ["due_at"],
                    postgresql_where=sa.text("status = 'dispatched' AND overdue_reported_at IS NULL"))
