"""router: a case that must be paid first waits for its payment

The catalogue says when each charged matter is paid: before the departments start, or before the
certificates are handed over. The router prices the case when it is accepted (the fee table in
services/catalogue/pricing.py) and holds it in CASE_STATUS_AWAITING_PAYMENT until fees says it
was paid (payment.received).

Revision ID: router_0007
Revises: router_0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "router_0007"
down_revision = "router_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("router_cases") as batch:
        batch.add_column(sa.Column("payment_stage", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("payment_due_fen", sa.BigInteger, nullable=False, server_default="0"))
        batch.add_column(sa.Column("paid_receipt", sa.String(40), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("router_cases") as batch:
        batch.drop_column("paid_receipt")
        batch.drop_column("payment_due_fen")
        batch.drop_column("payment_stage")
