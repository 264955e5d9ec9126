"""router: who decided a step

The decision's `officer_id` (an officer at the desk, or the adapter for an automatic decision) is
kept with the step and carried in the router's events: the national exchange tables name the
officer of each process step.

Revision ID: router_0006
Revises: router_0005
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "router_0006"
down_revision = "router_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("router_steps") as batch:
        batch.add_column(sa.Column("officer_id", sa.String(64), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("router_steps") as batch:
        batch.drop_column("officer_id")
