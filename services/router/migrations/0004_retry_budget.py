"""router: a retried incident gets a fresh set of attempts

`retried_after` is the step's attempt count when an operator last retried it (RetryIncident; 0:
never). The router counts the attempts since then against ROUTER_MAX_ATTEMPTS and backs off from
the first delay again, so a retry that meets the last moments of an outage (a client still
waiting out its reconnect backoff) is retried, not turned straight back into an incident.
Rows written by an earlier version read 0.

Revision ID: router_0004
Revises: router_0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "router_0004"
down_revision = "router_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("router_steps") as batch:
        batch.add_column(sa.Column("retried_after", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("router_steps") as batch:
        batch.drop_column("retried_after")
