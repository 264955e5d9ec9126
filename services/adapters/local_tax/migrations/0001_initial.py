"""local_tax register: registrations, handled messages

Revision ID: local_tax_0001
Revises:
Create Date: 2026-11-25
"""

from services.adapters.sdk.handled import create_sdk_tables, drop_sdk_tables
from services.adapters.taxlaw import create_registration_table

revision = "local_tax_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_sdk_tables("local_tax")
    create_registration_table("local_tax")


def downgrade() -> None:
    from alembic import op

    op.drop_table("local_tax_registrations")
    drop_sdk_tables("local_tax")
