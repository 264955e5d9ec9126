"""router: room for HOT updates of cases; no index of unsent outbox rows

A case row is updated by every message of its case; at fillfactor 80 its page keeps room for the
new version, so PostgreSQL updates it in place (HOT) instead of adding an index entry each time.
(Steps gain nothing from it: their status is indexed, so a status change always needs new index
entries.) The outbox holds only unsent rows since its relay deletes what the broker confirmed, so
an index of the unsent ones repeated the primary key at every insert.

Revision ID: router_0003
Revises: router_0002
Create Date: 2026-11-26
"""

from alembic import op

from services.runtime.outbox import create_unsent_index, drop_unsent_index

revision = "router_0003"
down_revision = "router_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE router_cases SET (fillfactor = 80)")
    drop_unsent_index("router_outbox")


def downgrade() -> None:
    create_unsent_index("router_outbox")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE router_cases RESET (fillfactor)")
