"""fees: receipts and counters

Revision ID: fees_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime

revision = "fees_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fees_receipts",
        sa.Column("application_id", sa.String(40), primary_key=True),
        sa.Column("receipt_number", sa.String(40), nullable=False, unique=True),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("bundle_code", sa.String(64), nullable=False),
        sa.Column("payer_name", sa.String(200), nullable=False),
        sa.Column("lines", sa.JSON, nullable=False),
        sa.Column("total_fen", sa.BigInteger, nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.Column("verification_code", sa.String(64), nullable=False),
    )
    op.create_index("ix_fees_receipts_case_id", "fees_receipts", ["case_id"])
    op.create_table(
        "fees_receipt_counters",
        sa.Column("year", sa.Integer, primary_key=True),
        sa.Column("last", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fees_receipt_counters")
    op.drop_table("fees_receipts")
