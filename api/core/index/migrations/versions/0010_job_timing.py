"""job timing: a job's own catch-up window and jitter; backfills asked of its schedule; its
pauses and resumes

Revision ID: 0010_job_timing
Revises: 0009_budgets
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.index.models

revision: str = "0010_job_timing"
down_revision: str | None = "0009_budgets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): on SQLite a recreated ``jobs`` would lose its triggers.
    op.add_column("jobs", sa.Column("catchup_window_seconds", sa.Integer(), nullable=True))
    op.add_column(
        "jobs", sa.Column("jitter_seconds", sa.Integer(), server_default="0", nullable=False)
    )
    op.create_table(
        "backfills",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("start", api.core.index.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("end", api.core.index.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("overlap", sa.String(length=20), nullable=False),
        sa.Column("fires", sa.Integer(), nullable=False),
        sa.Column("requested_at", api.core.index.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_backfills_job_start", "backfills", ["job_id", "start"])
    op.create_table(
        "job_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("at", api.core.index.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("by", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_job_events_job_at", "job_events", ["job_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_job_events_job_at", table_name="job_events")
    op.drop_table("job_events")
    op.drop_index("ix_backfills_job_start", table_name="backfills")
    op.drop_table("backfills")
    op.drop_column("jobs", "jitter_seconds")
    op.drop_column("jobs", "catchup_window_seconds")
