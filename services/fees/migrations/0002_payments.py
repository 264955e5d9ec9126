"""fees: bills priced at acceptance, payments, and receipts per payment and per reversal
(append-only); the receipts of completed cases issued before payments stay in fees_receipts

Revision ID: fees_0002
Revises: fees_0001
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime

revision = "fees_0002"
down_revision = "fees_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fees_bills",
        sa.Column("application_id", sa.String(40), primary_key=True),
        sa.Column("case_id", sa.String(40), nullable=False, index=True),
        sa.Column("catalogue_version", sa.String(32), nullable=False),
        sa.Column("payer_name", sa.String(200), nullable=False),
        sa.Column("quote", sa.LargeBinary, nullable=False),
        sa.Column("total_fen", sa.BigInteger, nullable=False),
        sa.Column("payment_stage", sa.Integer, nullable=False),
        sa.Column("accepted_at", UTCDateTime, nullable=False),
        sa.Column("ended", sa.String(16), nullable=False, server_default=""),
    )
    op.create_table(
        "fees_payments",
        sa.Column("client_key", sa.String(128), primary_key=True),
        sa.Column("application_id", sa.String(40), nullable=False, unique=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("receipt_number", sa.String(40), nullable=False),
        sa.Column("paid_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "fees_issued_receipts",
        sa.Column("receipt_number", sa.String(40), primary_key=True),
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("application_id", sa.String(40), nullable=False, index=True),
        sa.Column("reverses", sa.String(40), nullable=False, index=True),
        sa.Column("client_key", sa.String(128), nullable=True, unique=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False, index=True),
        sa.Column("total_fen", sa.BigInteger, nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fees_issued_receipts")
    op.drop_table("fees_payments")
    op.drop_table("fees_bills")
