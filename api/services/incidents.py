"""Incidents and the owner's alert settings, for one owner (docs/alerts.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import NotFound
from api.core.index import audit as audit_store
from api.core.index import incidents as store
from api.core.index.audit import Actor
from api.core.settings import Settings
from api.schemas.incidents import IncidentPublic, IncidentsPublic, NotificationPublic
from api.services.jobs import check_alert_channel
from domain.alerts import AlertSettings


@dataclass
class IncidentService:
    """Incident operations for one owner."""

    session: AsyncSession
    settings: Settings
    owner: str
    now: datetime

    async def list_page(
        self,
        *,
        status: str | None,
        job_id: str | None,
        kind: str | None,
        limit: int,
        offset: int,
    ) -> IncidentsPublic:
        """A page of the owner's incidents, newest first."""
        rows, count = await store.list_incidents(
            self.session,
            owner=self.owner,
            status=status,
            job_id=job_id,
            kind=kind,
            limit=limit,
            offset=offset,
        )
        return IncidentsPublic(incidents=await self._public(rows), count=count)

    async def get(self, incident_id: str) -> IncidentPublic:
        """The owner's incident, or 404 (another owner's too)."""
        row = await store.get_incident(self.session, owner=self.owner, incident_id=incident_id)
        if row is None:
            raise NotFound(f"Incident {incident_id} not found")
        return (await self._public([row]))[0]

    async def ack(self, incident_id: str, *, by: str, actor: Actor) -> IncidentPublic:
        """Acknowledge: no more reminders; who and when are kept (the first ack stays, and only
        it is in the audit log)."""
        found = await self.get(incident_id)
        if found.acked_at is None:
            await audit_store.add_event(
                self.session,
                owner=self.owner,
                action="incident.ack",
                actor=actor,
                job_id=found.job_id,
                target_id=incident_id,
            )
        await store.ack(self.session, owner=self.owner, incident_id=incident_id, by=by, at=self.now)
        await self.session.commit()
        return await self.get(incident_id)

    async def alerts(self) -> AlertSettings | None:
        """The owner's default alert settings, or None."""
        found = await store.owner_alerts(self.session, owner=self.owner)
        return AlertSettings.model_validate(found) if found else None

    async def set_alerts(self, alerts: AlertSettings | None) -> AlertSettings | None:
        """Set (None: remove) the owner's default alert settings."""
        if alerts is not None:
            await check_alert_channel(self.settings, alerts.channel)
        await store.set_owner_alerts(
            self.session,
            owner=self.owner,
            alerts=alerts.model_dump(mode="json") if alerts else None,
            at=self.now,
        )
        await self.session.commit()
        return alerts

    async def _public(self, rows: Any) -> list[IncidentPublic]:
        notes = await store.notifications_of(self.session, incident_ids=[row.id for row in rows])
        return [_incident(row, notes[row.id]) for row in rows]


def _incident(row: sa.Row[Any], notes: list[sa.Row[Any]]) -> IncidentPublic:
    data = dict(row._mapping)
    alerts = data.pop("alerts") or {}
    data.pop("open_key", None)
    data.pop("owner", None)
    data["channel"] = alerts.get("channel") if data["notify"] else None
    data["notifications"] = [
        NotificationPublic(
            id=note.id,
            event=note.event,
            channel=note.channel,
            status=note.status,
            at=note.created_at,
            sent_at=note.sent_at,
            attempts=note.attempts,
            error=note.error,
            outbox=note.outbox,
        )
        for note in notes
    ]
    return IncidentPublic.model_validate(data)
