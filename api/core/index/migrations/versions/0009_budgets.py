"""budgets: a job's budget and budget pause, a run's reported usage and skip reason

Revision ID: 0009_budgets
Revises: 0008_outbox
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.index.models

revision: str = "0009_budgets"
down_revision: str | None = "0008_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): on SQLite a recreated table would lose its triggers.
    op.add_column("jobs", sa.Column("budget", sa.JSON(), nullable=True))
    op.add_column(
        "jobs",
        sa.Column(
            "budget_reopens_at", api.core.index.models.UTCDateTime(timezone=True), nullable=True
        ),
    )
    op.add_column("runs", sa.Column("input_tokens", sa.BigInteger(), nullable=True))
    op.add_column("runs", sa.Column("output_tokens", sa.BigInteger(), nullable=True))
    op.add_column("runs", sa.Column("cost_usd", sa.Float(), nullable=True))
    op.add_column("runs", sa.Column("skip_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    for column in ("skip_reason", "cost_usd", "output_tokens", "input_tokens"):
        op.drop_column("runs", column)
    op.drop_column("jobs", "budget_reopens_at")
    op.drop_column("jobs", "budget")
