"""planning register: parcels (with sample zoning of Dongsheng), permits, SDK tables

Revision ID: planning_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from services.adapters.sdk.handled import create_sdk_tables, drop_sdk_tables
from services.runtime.db import UTCDateTime

revision = "planning_0001"
down_revision = None
branch_labels = None
depends_on = None

# Sample planning conditions (控制性详细规划), to be replaced by the bureau's own data.
PARCELS = [
    ("DS-2026-001", "天骄北路居住片区", "R2", 250, 5400),
    ("DS-2026-002", "铁西商业中心", "B1", 400, 10000),
    ("DS-2026-003", "装备制造园区", "M1", 150, 2400),
    ("DS-2026-004", "乌兰木伦河滨公园", "G1", 10, 600),
]


def upgrade() -> None:
    create_sdk_tables("planning")
    parcels = op.create_table(
        "planning_parcels",
        sa.Column("parcel_id", sa.String(32), primary_key=True),
        sa.Column("zone_name", sa.String(200), nullable=False),
        sa.Column("land_use", sa.String(8), nullable=False),
        sa.Column("max_plot_ratio_x100", sa.Integer, nullable=False),
        sa.Column("max_height_cm", sa.Integer, nullable=False),
    )
    op.bulk_insert(parcels, [dict(zip(("parcel_id", "zone_name", "land_use", "max_plot_ratio_x100", "max_height_cm"), p,
                                      strict=True)) for p in PARCELS])
    op.create_table(
        "planning_permits",
        sa.Column("permit_number", sa.String(40), primary_key=True),
        sa.Column("case_id", sa.String(40), nullable=False, unique=True),
        sa.Column("parcel_id", sa.String(32), nullable=False),
        sa.Column("project_name", sa.String(200), nullable=False),
        sa.Column("builder_name", sa.String(200), nullable=False),
        sa.Column("plot_ratio_x100", sa.Integer, nullable=False),
        sa.Column("height_cm", sa.Integer, nullable=False),
        sa.Column("issued_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("planning_permits")
    op.drop_table("planning_parcels")
    drop_sdk_tables("planning")
