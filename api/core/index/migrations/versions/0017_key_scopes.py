"""key_scopes: a key's name, scope, limits, expiry and last use; the key that created a job;
rate-limit windows (docs/api.md, "Keys and scopes")

Revision ID: 0017_key_scopes
Revises: 0016_incidents
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.index.models

revision: str = "0017_key_scopes"
down_revision: str | None = "0016_incidents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = api.core.index.models.UTCDateTime


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): on SQLite a recreated ``jobs`` would lose its triggers.
    op.add_column("api_keys", sa.Column("name", sa.String(length=200), nullable=True))
    op.add_column(
        "api_keys",
        sa.Column("scope", sa.String(length=10), server_default="write", nullable=False),
    )
    op.add_column("api_keys", sa.Column("limits", sa.JSON(), nullable=True))
    op.add_column("api_keys", sa.Column("expires_at", _TIME(timezone=True), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", _TIME(timezone=True), nullable=True))
    op.add_column("jobs", sa.Column("created_by", sa.String(length=40), nullable=True))
    op.create_index("ix_jobs_created_by", "jobs", ["created_by"], unique=False)
    op.create_table(
        "rate_counts",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("window", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "window"),
    )


def downgrade() -> None:
    op.drop_table("rate_counts")
    op.drop_index("ix_jobs_created_by", table_name="jobs")
    op.drop_column("jobs", "created_by")
    for column in ("last_used_at", "expires_at", "limits", "scope", "name"):
        op.drop_column("api_keys", column)
