"""incidents: a job's alert settings, deadline and grace; owner settings; incidents and their
notifications (docs/alerts.md)

Revision ID: 0016_incidents
Revises: 0015_fallback_agents
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import api.core.index.models

revision: str = "0016_incidents"
down_revision: str | None = "0015_fallback_agents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = api.core.index.models.UTCDateTime


def upgrade() -> None:
    # Plain ADD COLUMN (no batch mode): on SQLite a recreated ``jobs`` would lose its triggers.
    op.add_column("jobs", sa.Column("alerts", sa.JSON(), nullable=True))
    op.add_column(
        "jobs",
        sa.Column("alerts_from", sa.String(length=10), server_default="owner", nullable=False),
    )
    op.add_column("jobs", sa.Column("grace_seconds", sa.Integer(), nullable=True))
    op.add_column("jobs", sa.Column("deadline", sa.JSON(), nullable=True))
    op.add_column("jobs", sa.Column("max_run_seconds", sa.Integer(), nullable=True))
    op.create_table(
        "owner_settings",
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("alerts", sa.JSON(), nullable=True),
        sa.Column("updated_at", _TIME(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("job_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("open_key", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("fire_at", _TIME(timezone=True), nullable=True),
        sa.Column("opened_at", _TIME(timezone=True), nullable=False),
        sa.Column("resolved_at", _TIME(timezone=True), nullable=True),
        sa.Column("resolved_reason", sa.Text(), nullable=True),
        sa.Column("alerts", sa.JSON(), nullable=True),
        sa.Column("notify", sa.Boolean(), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("next_reminder_at", _TIME(timezone=True), nullable=True),
        sa.Column("acked_at", _TIME(timezone=True), nullable=True),
        sa.Column("acked_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_key"),
    )
    op.create_index("ix_incidents_owner_opened", "incidents", ["owner", "opened_at", "id"])
    op.create_index("ix_incidents_job_opened", "incidents", ["job_id", "opened_at"])
    op.create_index("ix_incidents_status_remind", "incidents", ["status", "next_reminder_at"])
    op.create_table(
        "incident_notifications",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("incident_id", sa.String(length=40), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", _TIME(timezone=True), nullable=False),
        sa.Column("sent_at", _TIME(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_until", _TIME(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("outbox", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_incident_notifications_incident",
        "incident_notifications",
        ["incident_id", "created_at"],
    )
    op.create_index(
        "ix_incident_notifications_status", "incident_notifications", ["status", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_incident_notifications_status", table_name="incident_notifications")
    op.drop_index("ix_incident_notifications_incident", table_name="incident_notifications")
    op.drop_table("incident_notifications")
    op.drop_index("ix_incidents_status_remind", table_name="incidents")
    op.drop_index("ix_incidents_job_opened", table_name="incidents")
    op.drop_index("ix_incidents_owner_opened", table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("owner_settings")
    op.drop_column("jobs", "max_run_seconds")
    op.drop_column("jobs", "deadline")
    op.drop_column("jobs", "grace_seconds")
    op.drop_column("jobs", "alerts_from")
    op.drop_column("jobs", "alerts")
