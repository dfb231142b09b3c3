"""idempotency_resource: the id a keyed request gives what it creates, kept across its retries

Revision ID: 0012_idempotency_resource
Revises: 0011_idempotency
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_idempotency_resource"
down_revision: str | None = "0011_idempotency"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Keys claimed before this column existed have none: their requests take random ids.
    op.add_column("idempotency_keys", sa.Column("resource_id", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("idempotency_keys", "resource_id")
