"""Audit log routes (docs/api.md, "Audit log"): the owner's recorded changes, newest first."""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import JobId, JobServiceDep, Limit, Offset, OwnerDep, SessionDep
from api.errors import ERROR_RESPONSES
from api.routing import JsonRoute
from api.schemas.audit import AuditAction, AuditEventsPublic
from api.services.audit import AuditService
from domain.inputs import IsoDatetime, Text

router = APIRouter(route_class=JsonRoute, tags=["audit"], responses=ERROR_RESPONSES)


async def _audit(session: SessionDep, owner: OwnerDep) -> AuditService:
    return AuditService(session=session, owner=owner)


AuditServiceDep = Annotated[AuditService, Depends(_audit)]


@router.get("/audit", response_model=AuditEventsPublic)
async def list_audit(
    audit: AuditServiceDep,
    job_id: Annotated[Text | None, Query(max_length=40)] = None,
    actor: Annotated[
        Text | None,
        Query(max_length=80, description="A key's id, a hook's id, or `system`."),
    ] = None,
    action: AuditAction | None = None,
    since: Annotated[
        IsoDatetime | None, Query(description="Events at or after this instant (naive: UTC).")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AuditEventsPublic:
    """The owner's audit events, newest first; `count` is the total matching the filters."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return await audit.list(
        job_id=job_id, actor=actor, action=action, since=since, limit=limit, offset=offset
    )


@router.get("/jobs/{job_id}/history", response_model=AuditEventsPublic)
async def job_history(
    job_id: JobId,
    jobs: JobServiceDep,
    audit: AuditServiceDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> AuditEventsPublic:
    """The job's audit events, newest first (404 for a job that is not the owner's)."""
    await jobs.owned(job_id)
    return await audit.list(
        job_id=job_id, actor=None, action=None, since=None, limit=limit, offset=offset
    )
