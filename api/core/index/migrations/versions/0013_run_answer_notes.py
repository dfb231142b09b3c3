"""run_answer_notes: whether a run keeps less than its agent answered, and what was changed

Revision ID: 0013_run_answer_notes
Revises: 0012_idempotency_resource
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_run_answer_notes"
down_revision: str | None = "0012_idempotency_resource"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "runs", sa.Column("truncated", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("runs", sa.Column("answer_notes", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "answer_notes")
    op.drop_column("runs", "truncated")
