"""intake: no second index on events' application id, none of unsent outbox rows; room for HOT
updates of applications

The unique index on (application_id, sequence) already serves every lookup by application (its
first column), so the single-column index only cost an index insertion per event. An application
row is updated at every status change; at fillfactor 80 its page keeps room for the new version,
so PostgreSQL updates it in place (HOT) without a new entry in each of its three indexes. The
outbox holds only unsent rows since its relay deletes what the broker confirmed, so an index of
the unsent ones repeated the primary key at every insert.

Revision ID: intake_0002
Revises: intake_0001
Create Date: 2026-11-26
"""

from alembic import op

from services.runtime.outbox import create_unsent_index, drop_unsent_index

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_intake_application_events_application_id", "intake_application_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE intake_applications SET (fillfactor = 80)")
    drop_unsent_index("intake_outbox")


def downgrade() -> None:
    create_unsent_index("intake_outbox")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE intake_applications RESET (fillfactor)")
    op.create_index("ix_intake_application_events_application_id", "intake_application_events", ["application_id"])
