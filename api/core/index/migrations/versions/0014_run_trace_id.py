"""run_trace_id: the OpenTelemetry trace a run belongs to (docs/operations.md, "Traces")

Revision ID: 0014_run_trace_id
Revises: 0013_run_answer_notes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_run_trace_id"
down_revision: str | None = "0013_run_answer_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("trace_id", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "trace_id")
