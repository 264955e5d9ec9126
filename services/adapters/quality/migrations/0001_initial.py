"""quality register: certificates, handled messages

Revision ID: quality_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from services.adapters.sdk.handled import create_sdk_tables, drop_sdk_tables
from services.runtime.db import UTCDateTime

revision = "quality_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_sdk_tables("quality")
    op.create_table(
        "quality_certificates",
        sa.Column("org_code", sa.String(9), primary_key=True),
        sa.Column("credit_code", sa.String(18), nullable=False, unique=True),
        sa.Column("company_name", sa.String(200), nullable=False),
        sa.Column("certificate_number", sa.String(40), nullable=False, unique=True),
        sa.Column("case_id", sa.String(40), nullable=False, unique=True),
        sa.Column("issued_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("quality_certificates")
    drop_sdk_tables("quality")
