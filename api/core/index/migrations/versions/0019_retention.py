"""retention: indexes that let the tick's prunes find the oldest rows first
(docs/operations.md, "Retention")

Revision ID: 0019_retention
Revises: 0018_hooks

Only indexes: no table is rebuilt, so the SQLite triggers of ``0005_totals`` stay. An index that
exists already is left as it is, so a large PostgreSQL index can have them built beforehand with
``CREATE INDEX CONCURRENTLY`` (same names) instead of blocking writes while this runs.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_retention"
down_revision: str | None = "0018_hooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = [
    ("ix_runs_completed", "runs", "completed_at"),
    ("ix_outbox_created", "outbox", "created_at"),
    ("ix_incidents_resolved", "incidents", "resolved_at"),
]


def upgrade() -> None:
    for name, table, column in _INDEXES:
        op.create_index(name, table, [column], unique=False, if_not_exists=True)


def downgrade() -> None:
    for name, table, _ in reversed(_INDEXES):
        op.drop_index(name, table_name=table)
