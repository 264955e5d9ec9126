"""intake: when the applicant asked to withdraw (a second request while the first is in flight
answers the same state instead of sending the withdrawal again)

Revision ID: intake_0004
Revises: intake_0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime

revision = "intake_0004"
down_revision = "intake_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("intake_applications", sa.Column("withdrawal_requested_at", UTCDateTime, nullable=True))


def downgrade() -> None:
    op.drop_column("intake_applications", "withdrawal_requested_at")
