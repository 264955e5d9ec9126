"""audit: an insert-only chain head and signed checkpoints (evidence against a rewrite)

The head was one row UPDATEd at every append, so the service's role needed UPDATE. Now each
append adds a head row (the newest is the head) and the role needs INSERT and SELECT only.
Checkpoints sign the head and every record's hash since the one before (services/audit/evidence.py).

Revision ID: audit_0003
Revises: audit_0002
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime

revision = "audit_0003"
down_revision = "audit_0002"
branch_labels = None
depends_on = None

GUARDED = ("audit_records", "audit_chain_heads", "audit_checkpoints")


def upgrade() -> None:
    op.create_table(
        "audit_chain_heads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.execute("INSERT INTO audit_chain_heads (hash, count, at) SELECT hash, count, CURRENT_TIMESTAMP FROM audit_chain_head")
    op.drop_table("audit_chain_head")
    op.create_table(
        "audit_checkpoints",
        sa.Column("number", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("from_count", sa.BigInteger, nullable=False),
        # The sequence number of the last record it covers (where the next one starts reading).
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        # The chain hash after each record since the checkpoint before, 64 hex digits each.
        sa.Column("hashes", sa.Text, nullable=False),
        sa.Column("signed_at", UTCDateTime, nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;
        """)
        for table in GUARDED[1:]:
            op.execute(f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION audit_append_only()")
        for table in GUARDED:
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()")
    else:
        for table in GUARDED[1:]:
            for action in ("UPDATE", "DELETE"):
                op.execute(f"""
                    CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table}
                    BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;
                """)


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO audit_chain_head (id, hash, count) SELECT 1, hash, count FROM audit_chain_heads "
               "ORDER BY id DESC LIMIT 1")
    op.drop_table("audit_chain_heads")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_records_no_truncate ON audit_records")
        op.execute("DROP FUNCTION IF EXISTS audit_append_only()")
