"""audit: records, chain head, append-only guard

Revision ID: audit_0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime

revision = "audit_0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(64), nullable=False, unique=True),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("operation", sa.String(200), nullable=False),
        sa.Column("actor_id", sa.String(64), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("duration_us", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_records_case_id", "audit_records", ["case_id"])
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.execute(sa.text(f"INSERT INTO audit_chain_head (id, hash, count) VALUES (1, '{GENESIS}', 0)"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'audit_records is append-only'; END $$;
        """)
        op.execute("""
            CREATE TRIGGER audit_records_no_change BEFORE UPDATE OR DELETE ON audit_records
            FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
        """)
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_records_no_{action.lower()} BEFORE {action} ON audit_records
                BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
            """)


def downgrade() -> None:
    op.drop_table("audit_chain_head")
    op.drop_table("audit_records")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_records_append_only()")
