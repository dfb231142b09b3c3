"""Stats routes (docs/api.md, "Stats and status"): the caller's aggregates and one job's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import JobId, NowDep, OwnerDep, SessionDep, Zone
from api.errors import ERROR_RESPONSES
from api.routing import JsonRoute
from api.schemas.insight import JobStats, Stats
from api.services import insight

router = APIRouter(route_class=JsonRoute, tags=["stats"], responses=ERROR_RESPONSES)


@router.get("/stats", response_model=Stats)
async def get_stats(
    owner: OwnerDep,
    session: SessionDep,
    now: NowDep,
    timezone: Zone = "UTC",
    days: Annotated[int, Query(ge=1, le=365)] = 7,
) -> Stats:
    """Your jobs by status, runs started today (in `timezone`), success rate and mean duration
    of the runs finished in the last `days` days."""
    return await insight.stats(session, owner=owner, timezone=timezone, days=days, now=now)


@router.get("/jobs/{job_id}/stats", response_model=JobStats)
async def get_job_stats(
    job_id: JobId, owner: OwnerDep, session: SessionDep, now: NowDep, timezone: Zone = "UTC"
) -> JobStats:
    """One job's runs by status, success rate, durations, last run and runs per local day."""
    return await insight.job_stats(session, owner=owner, job_id=job_id, timezone=timezone, now=now)
