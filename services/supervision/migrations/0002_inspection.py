"""supervision: what the inspectors read: the feed, evaluations, complaints, and the facts the
exchange tables need (clerk, applicant masked, results, officers)

The feed's cursor is taken from one counter row in the transaction that records the entries: the
row lock orders the transactions, so cursors are committed in the order they were taken and a
reader that has seen cursor N has seen everything below it.

Revision ID: supervision_0002
Revises: supervision_0001
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from services.runtime.db import UTCDateTime

revision = "supervision_0002"
down_revision = "supervision_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("supervision_cases") as batch:
        batch.add_column(sa.Column("clerk_id", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("applicant_kind", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("applicant_name_masked", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("applicant_id_masked", sa.String(40), nullable=False, server_default=""))
        batch.add_column(sa.Column("results", sa.JSON, nullable=True))
    op.create_index("ix_supervision_cases_accepted_at", "supervision_cases", ["accepted_at"])
    with op.batch_alter_table("supervision_steps") as batch:
        batch.add_column(sa.Column("officer_id", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("results", sa.JSON, nullable=True))
        batch.add_column(sa.Column("reasons", sa.JSON, nullable=True))
    with op.batch_alter_table("supervision_cards") as batch:
        # "" for a case's or a step's card; complaint:<id> or rectification:<id> otherwise.
        batch.add_column(sa.Column("subject", sa.String(80), nullable=False, server_default=""))
    op.create_table(
        "supervision_feed",
        sa.Column("cursor", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.Integer, nullable=False),
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        # ",business,quality," : every department of the case, for a department's filter.
        sa.Column("departments", sa.String(400), nullable=False),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("ref_id", sa.String(160), nullable=False),
    )
    op.create_table(
        "supervision_feed_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO supervision_feed_head (id, last) VALUES (1, 0)")
    op.create_table(
        "supervision_evaluations",
        sa.Column("evaluation_id", sa.String(40), primary_key=True),
        # What was rated: case:<case id> or visit:<visit id>; one evaluation each (一次一评).
        sa.Column("rated", sa.String(120), nullable=False, unique=True),
        sa.Column("case_id", sa.String(40), nullable=False, index=True),
        sa.Column("visit_id", sa.String(80), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("channel", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("evaluator", sa.String(200), nullable=False),
        sa.Column("clerk_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False, index=True),
        sa.Column("state", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=True),
        sa.Column("called_back_at", UTCDateTime, nullable=True),
        sa.Column("called_back_by", sa.String(64), nullable=False),
        sa.Column("callback_note", sa.Text, nullable=False),
        sa.Column("done_at", UTCDateTime, nullable=True),
        sa.Column("done_by", sa.String(64), nullable=False),
        sa.Column("done_note", sa.Text, nullable=False),
        sa.Column("appeal_reason", sa.Text, nullable=False),
        sa.Column("appeal_evidence", sa.JSON, nullable=True),
        sa.Column("decision_note", sa.Text, nullable=False),
    )
    op.create_table(
        "supervision_complaints",
        sa.Column("complaint_id", sa.String(40), primary_key=True),
        sa.Column("request_id", sa.String(80), nullable=False, unique=True),
        sa.Column("target", sa.Integer, nullable=False),
        sa.Column("case_id", sa.String(40), nullable=False, index=True),
        sa.Column("department", sa.String(64), nullable=False, index=True),
        sa.Column("clerk_id", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("complainant", sa.String(200), nullable=False),
        sa.Column("state", sa.Integer, nullable=False),
        sa.Column("filed_at", UTCDateTime, nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("answered_by", sa.String(64), nullable=False),
        sa.Column("answered_at", UTCDateTime, nullable=True),
        sa.Column("satisfied", sa.Boolean, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("responded_at", UTCDateTime, nullable=True),
        sa.Column("evaluation_id", sa.String(40), nullable=False, index=True),
        sa.Column("ticket_id", sa.String(80), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("supervision_complaints")
    op.drop_table("supervision_evaluations")
    op.drop_table("supervision_feed_head")
    op.drop_table("supervision_feed")
    with op.batch_alter_table("supervision_cards") as batch:
        batch.drop_column("subject")
    with op.batch_alter_table("supervision_steps") as batch:
        batch.drop_column("reasons")
        batch.drop_column("results")
        batch.drop_column("officer_id")
    op.drop_index("ix_supervision_cases_accepted_at", "supervision_cases")
    with op.batch_alter_table("supervision_cases") as batch:
        batch.drop_column("results")
        batch.drop_column("applicant_id_masked")
        batch.drop_column("applicant_name_masked")
        batch.drop_column("applicant_kind")
        batch.drop_column("clerk_id")
