"""business register: companies, sequences, handled messages

Revision ID: business_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from services.adapters.sdk.handled import create_sdk_tables, drop_sdk_tables
from services.runtime.db import UTCDateTime

revision = "business_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_sdk_tables("business")
    op.create_table(
        "business_companies",
        sa.Column("credit_code", sa.String(18), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("licence_number", sa.String(15), nullable=False, unique=True),
        sa.Column("org_code", sa.String(9), nullable=False, unique=True),
        sa.Column("registered_capital_fen", sa.BigInteger, nullable=False),
        sa.Column("business_scope", sa.String(2000), nullable=False),
        sa.Column("legal_rep_name", sa.String(100), nullable=False),
        sa.Column("legal_rep_id", sa.String(18), nullable=False),
        sa.Column("address", sa.String(500), nullable=False),
        sa.Column("case_id", sa.String(40), nullable=False, unique=True),
        sa.Column("registered_at", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
    )
    op.create_table(
        "business_sequences",
        sa.Column("division", sa.String(6), primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("business_sequences")
    op.drop_table("business_companies")
    drop_sdk_tables("business")
