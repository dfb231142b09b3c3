"""hooks: signed event triggers of jobs, and the input a run was started with (docs/api.md,
"Hooks")

Revision ID: 0018_hooks
Revises: 0017_key_scopes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.index.models

revision: str = "0018_hooks"
down_revision: str | None = "0017_key_scopes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = api.core.index.models.UTCDateTime


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): on SQLite a recreated table would lose its triggers.
    op.add_column("runs", sa.Column("input", sa.JSON(), nullable=True))
    op.create_table(
        "hooks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("created_at", _TIME(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_hooks_job_id", "hooks", ["job_id"])


def downgrade() -> None:
    op.drop_index("ix_hooks_job_id", table_name="hooks")
    op.drop_table("hooks")
    op.drop_column("runs", "input")
