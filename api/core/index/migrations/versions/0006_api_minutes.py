"""api minutes: which process records an owner's API calls of a minute

Revision ID: 0006_api_minutes
Revises: 0005_totals
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_api_minutes"
down_revision: str | None = "0005_totals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_minutes",
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("owner", "minute"),
    )


def downgrade() -> None:
    op.drop_table("api_minutes")
