"""Incident models: an incident with its notifications, a page of them, the acknowledgement."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from domain.alerts import IncidentKind

IncidentStatus = Literal["open", "resolved"]


class NotificationPublic(BaseModel):
    """One notification of an incident and how sending it went."""

    id: str = Field(description="Its idempotency key (the webhook's delivery id).")
    event: Literal["opened", "reminder", "resolved"]
    channel: str
    status: Literal["pending", "sent", "failed"] = Field(
        description="`pending`: queued or being retried; `sent`; `failed`: given up."
    )
    at: datetime = Field(description="When it was queued.")
    sent_at: datetime | None
    attempts: int
    error: str | None
    outbox: bool = Field(description="Kept in the dev outbox instead of sent.")


class IncidentPublic(BaseModel):
    """An incident as the API shows it."""

    id: str
    job_id: str
    job_name: str
    kind: IncidentKind
    status: IncidentStatus
    reason: str
    details: dict[str, Any]
    fire_at: datetime | None = Field(description="The fire or deadline it is about, if one.")
    opened_at: datetime
    resolved_at: datetime | None
    resolved_reason: str | None
    channel: str | None = Field(description="Where its notifications go; null: not notified.")
    notify: bool = Field(description="Whether its alerts notify this kind.")
    reminders: int
    next_reminder_at: datetime | None
    acked_at: datetime | None
    acked_by: str | None
    notifications: list[NotificationPublic]


class IncidentsPublic(BaseModel):
    """A page of incidents, newest first, and the total that match."""

    incidents: list[IncidentPublic]
    count: int
