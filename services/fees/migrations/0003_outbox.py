"""fees: an outbox, so a payment's payment.received leaves with its transaction (the router holds
a case until it is paid)

Revision ID: fees_0003
Revises: fees_0002
Create Date: 2026-12-06
"""

from alembic import op

from services.runtime.outbox import create_outbox_table

revision = "fees_0003"
down_revision = "fees_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_table("fees_outbox")


def downgrade() -> None:
    op.drop_table("fees_outbox")
