"""dispatches: per-attempt dispatch counts of a run, what deliveries sent, tick upkeep counts

Revision ID: 0007_dispatches
Revises: 0006_api_minutes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.index.models

revision: str = "0007_dispatches"
down_revision: str | None = "0006_api_minutes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): on SQLite a recreated ``runs`` would lose its triggers.
    op.add_column("runs", sa.Column("attempt_dispatches", sa.JSON(), nullable=True))
    op.add_column(
        "ticks",
        sa.Column("next_run_at_refreshed", sa.Integer(), server_default="0", nullable=False),
    )
    _move_refreshes_out_of_repairs()
    op.create_table(
        "deliveries_sent",
        sa.Column("delivery_id", sa.String(length=300), nullable=False),
        sa.Column("run_id", sa.String(length=120), nullable=False),
        sa.Column("posted", sa.Integer(), nullable=False),
        sa.Column("thread_ts", sa.String(length=64), nullable=True),
        sa.Column("messages", sa.Integer(), nullable=True),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("updated_at", api.core.index.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("delivery_id"),
    )
    op.create_index("ix_deliveries_sent_updated_at", "deliveries_sent", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_sent_updated_at", table_name="deliveries_sent")
    op.drop_table("deliveries_sent")
    with op.batch_alter_table("ticks") as batch:
        batch.drop_column("next_run_at_refreshed")
    op.drop_column("runs", "attempt_dispatches")


def _move_refreshes_out_of_repairs() -> None:
    """Ticks recorded before: their next-fire refreshes (and kinds counted 0) leave ``repairs``,
    so ``repairs_last_24h`` counts real repairs from the upgrade on."""
    ticks = sa.table(
        "ticks",
        sa.column("id", sa.Integer()),
        sa.column("repairs", sa.JSON()),
        sa.column("next_run_at_refreshed", sa.Integer()),
    )
    conn = op.get_bind()
    for tick_id, repairs in conn.execute(sa.select(ticks.c.id, ticks.c.repairs)).all():
        repairs = dict(repairs or {})
        refreshed = int(repairs.pop("next_run_at_refreshed", 0) or 0)
        kept = {kind: count for kind, count in repairs.items() if count}
        if refreshed or kept != repairs:
            conn.execute(
                ticks.update()
                .where(ticks.c.id == tick_id)
                .values(repairs=kept, next_run_at_refreshed=refreshed)
            )
