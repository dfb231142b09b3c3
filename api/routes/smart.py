"""Smart scheduling routes (docs/api.md, "Smart scheduling"): activity in, heatmap and
suggestions out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import NowDep, OwnerDep, SessionDep, Zone
from api.errors import ERROR_RESPONSES
from api.routing import JsonRoute
from api.schemas.insight import ActivityAccepted, ActivityBatch, Heatmap, SuggestionsOut
from api.services import activity, insight

router = APIRouter(
    route_class=JsonRoute, prefix="/smart", tags=["smart"], responses=ERROR_RESPONSES
)


@router.post("/activity", status_code=status.HTTP_201_CREATED, response_model=ActivityAccepted)
async def add_activity(
    body: ActivityBatch, owner: OwnerDep, session: SessionDep, now: NowDep
) -> ActivityAccepted:
    """Record up to 1,000 activity events from the host platform (none in the future)."""
    return await activity.ingest(session, owner=owner, batch=body, now=now)


@router.get("/heatmap", response_model=Heatmap)
async def get_heatmap(
    owner: OwnerDep,
    session: SessionDep,
    now: NowDep,
    timezone: Zone = "UTC",
    days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> Heatmap:
    """Your activity per weekday and hour in `timezone` over the last `days` local days."""
    return await insight.heatmap(session, owner=owner, timezone=timezone, days=days, now=now)


@router.get("/suggestions", response_model=SuggestionsOut)
async def get_suggestions(
    owner: OwnerDep,
    session: SessionDep,
    now: NowDep,
    timezone: Zone = "UTC",
    days: Annotated[int, Query(ge=7, le=365)] = 28,
) -> SuggestionsOut:
    """Times to schedule jobs at, from your typical working day in `timezone`."""
    return await insight.suggestions(session, owner=owner, timezone=timezone, days=days, now=now)
