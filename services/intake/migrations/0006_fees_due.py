"""intake: what each application owes at the window, priced at acceptance (the clerk says it at
once; fees keeps the bill)

Revision ID: intake_0006
Revises: intake_0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "intake_0006"
down_revision = "intake_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_applications") as batch:
        batch.add_column(sa.Column("fees_due_fen", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("intake_applications") as batch:
        batch.drop_column("fees_due_fen")
