"""insight: activity buckets, tick records, stats indexes

Revision ID: 0004_insight
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.index.models

revision: str = "0004_insight"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_buckets",
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "bucket"),
    )
    op.create_table(
        "ticks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("started_at", api.core.index.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", api.core.index.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("jobs_checked", sa.Integer(), nullable=False),
        sa.Column("schedules_checked", sa.Integer(), nullable=False),
        sa.Column("runs_checked", sa.Integer(), nullable=False),
        sa.Column("repairs", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ticks_started_at", "ticks", ["started_at"])
    op.create_index("ix_jobs_owner_deleted_status", "jobs", ["owner", "deleted_at", "status"])
    op.create_index("ix_jobs_owner_created_id", "jobs", ["owner", "created_at", "id"])
    op.create_index(
        "ix_runs_owner_completed", "runs", ["owner", "completed_at", "status", "duration_seconds"]
    )
    op.create_index("ix_runs_job_duration_status", "runs", ["job_id", "duration_seconds", "status"])


def downgrade() -> None:
    op.drop_index("ix_runs_job_duration_status", table_name="runs")
    op.drop_index("ix_runs_owner_completed", table_name="runs")
    op.drop_index("ix_jobs_owner_created_id", table_name="jobs")
    op.drop_index("ix_jobs_owner_deleted_status", table_name="jobs")
    op.drop_index("ix_ticks_started_at", table_name="ticks")
    op.drop_table("ticks")
    op.drop_table("activity_buckets")
