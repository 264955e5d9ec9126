"""audit: indexes for the inspectors' queries (records by actor, by department, by time)

Revision ID: audit_0002
Revises: audit_0001
Create Date: 2026-12-06
"""

from alembic import op

revision = "audit_0002"
down_revision = "audit_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_records_actor_seq", "audit_records", ["actor_id", "seq"])
    op.create_index("ix_audit_records_department_seq", "audit_records", ["department", "seq"])
    op.create_index("ix_audit_records_started_at", "audit_records", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_records_started_at", "audit_records")
    op.drop_index("ix_audit_records_department_seq", "audit_records")
    op.drop_index("ix_audit_records_actor_seq", "audit_records")
