"""chains: chains, their jobs, their runs

Revision ID: 0003_chains
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.index.models

revision: str = "0003_chains"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chains",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("jobs", sa.JSON(), nullable=False),
        sa.Column("edges", sa.JSON(), nullable=False),
        sa.Column("created_at", api.core.index.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", api.core.index.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chains", schema=None) as batch_op:
        batch_op.create_index("ix_chains_owner_created", ["owner", "created_at"], unique=False)

    op.create_table(
        "chain_jobs",
        sa.Column("chain_id", sa.String(length=40), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("is_root", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "job_id"),
    )
    with op.batch_alter_table("chain_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chain_jobs_job_id"), ["job_id"], unique=False)

    op.create_table(
        "chain_runs",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("chain_id", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("root_run_id", sa.String(length=120), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("started_at", api.core.index.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", api.core.index.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("nodes", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("temporal_run_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chain_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chain_runs_chain_started", ["chain_id", "started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("chain_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_chain_runs_chain_started")
    op.drop_table("chain_runs")
    with op.batch_alter_table("chain_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chain_jobs_job_id"))
    op.drop_table("chain_jobs")
    with op.batch_alter_table("chains", schema=None) as batch_op:
        batch_op.drop_index("ix_chains_owner_created")
    op.drop_table("chains")
