"""Incident routes and the owner's alert settings (docs/api.md, "Incidents")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status

from api.deps import CallerDep, Limit, NowDep, Offset, OwnerDep, SessionDep, StateDep
from api.errors import ERROR_RESPONSES
from api.routing import JsonRoute
from api.schemas.incidents import IncidentPublic, IncidentsPublic, IncidentStatus
from api.services.audit import actor_of
from api.services.incidents import IncidentService
from domain.alerts import AlertSettings, IncidentKind
from domain.inputs import Text

router = APIRouter(route_class=JsonRoute, tags=["incidents"], responses=ERROR_RESPONSES)


async def _incidents(
    state: StateDep, session: SessionDep, owner: OwnerDep, now: NowDep
) -> IncidentService:
    return IncidentService(session=session, settings=state.settings, owner=owner, now=now)


IncidentServiceDep = Annotated[IncidentService, Depends(_incidents)]
IncidentId = Annotated[Text, Path(description="An incident id (`inc_…`).")]


@router.get("/incidents", response_model=IncidentsPublic)
async def list_incidents(
    incidents: IncidentServiceDep,
    status_: Annotated[IncidentStatus | None, Query(alias="status")] = None,
    job_id: Annotated[Text | None, Query(max_length=40)] = None,
    kind: IncidentKind | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> IncidentsPublic:
    """The owner's incidents, newest first; `count` is the total matching the filters."""
    return await incidents.list_page(
        status=status_, job_id=job_id, kind=kind, limit=limit, offset=offset
    )


@router.get("/incidents/{incident_id}", response_model=IncidentPublic)
async def get_incident(incident_id: IncidentId, incidents: IncidentServiceDep) -> IncidentPublic:
    """One incident with its notifications."""
    return await incidents.get(incident_id)


@router.post("/incidents/{incident_id}/ack", response_model=IncidentPublic)
async def ack_incident(
    incident_id: IncidentId, incidents: IncidentServiceDep, caller: CallerDep
) -> IncidentPublic:
    """Acknowledge: no more reminders for it; `acked_by` records who (the key's owner)."""
    return await incidents.ack(incident_id, by=caller.owner, actor=actor_of(caller))


@router.get("/settings/alerts", response_model=AlertSettings | None)
async def get_alert_settings(incidents: IncidentServiceDep) -> AlertSettings | None:
    """The owner's default alert settings (every job without its own uses them), or null."""
    return await incidents.alerts()


@router.put("/settings/alerts", response_model=AlertSettings)
async def put_alert_settings(body: AlertSettings, incidents: IncidentServiceDep) -> AlertSettings:
    """Set the owner's default alert settings."""
    await incidents.set_alerts(body)
    return body


@router.delete("/settings/alerts", status_code=status.HTTP_204_NO_CONTENT)
async def delete_alert_settings(incidents: IncidentServiceDep) -> None:
    """Remove the owner's default: jobs without their own alerts have none."""
    await incidents.set_alerts(None)
