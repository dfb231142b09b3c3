"""fallback_agents: a job's fallback agents, the agent that answered a run, and the embeddings of
delivered outputs that semantic only-news compares (docs/api.md, "Fallback agents" and "Only news")

Revision ID: 0015_fallback_agents
Revises: 0014_run_trace_id
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.index.models

revision: str = "0015_fallback_agents"
down_revision: str | None = "0014_run_trace_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("fallback_agent_ids", sa.JSON(), nullable=True))
    op.add_column("runs", sa.Column("agent_id", sa.String(length=200), nullable=True))
    op.create_table(
        "output_embeddings",
        sa.Column("run_id", sa.String(length=120), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("embedding", sa.JSON(), nullable=False),
        sa.Column("created_at", api.core.index.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "model"),
    )
    op.create_index(
        "ix_output_embeddings_job_created", "output_embeddings", ["job_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_output_embeddings_job_created", table_name="output_embeddings")
    op.drop_table("output_embeddings")
    op.drop_column("runs", "agent_id")
    op.drop_column("jobs", "fallback_agent_ids")
