"""family planning register: birth registrations, SDK tables

Revision ID: family_planning_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from services.adapters.sdk.handled import create_sdk_tables, drop_sdk_tables
from services.runtime.db import UTCDateTime

revision = "family_planning_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_sdk_tables("family_planning")
    op.create_table(
        "family_planning_registrations",
        sa.Column("registration_number", sa.String(40), primary_key=True),
        sa.Column("case_id", sa.String(40), nullable=False, unique=True),
        sa.Column("applicant_id", sa.String(18), nullable=False),
        sa.Column("spouse_id", sa.String(18), nullable=False),
        sa.Column("child_order", sa.Integer, nullable=False),
        sa.Column("policy_basis", sa.String(200), nullable=False),
        sa.Column("registered_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("applicant_id", "child_order", name="uq_family_planning_child"),
    )


def downgrade() -> None:
    op.drop_table("family_planning_registrations")
    drop_sdk_tables("family_planning")
