"""intake: whether an application's promised date was counted over a year the official calendar
did not hold yet (recomputed when it does)

Revision ID: intake_0003
Revises: intake_0002
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0003"
down_revision = "intake_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("intake_applications",
                  sa.Column("promised_provisional", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("intake_applications", "promised_provisional")
