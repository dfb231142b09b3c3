"""audit: every change to an owner's jobs, keys, hooks and incidents (docs/api.md, "Audit log")

Revision ID: 0020_audit
Revises: 0019_retention
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.index.models

revision: str = "0020_audit"
down_revision: str | None = "0019_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = api.core.index.models.UTCDateTime

_INDEXES = [
    ("ix_audit_owner_at", ["owner", "at"]),
    ("ix_audit_job_at", ["job_id", "at"]),
    ("ix_audit_at", ["at"]),
]


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("at", _TIME(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=True),
        sa.Column("target_id", sa.String(length=80), nullable=True),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=80), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("transport", sa.String(length=10), nullable=True),
        sa.Column("request_id", sa.String(length=80), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    for name, columns in _INDEXES:
        op.create_index(name, "audit_events", columns)


def downgrade() -> None:
    for name, _ in reversed(_INDEXES):
        op.drop_index(name, table_name="audit_events")
    op.drop_table("audit_events")
