"""Engine status route (docs/api.md, "Stats and status")."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import NowDep, OwnerDep, SessionDep, StateDep
from api.errors import ERROR_RESPONSES
from api.routing import JsonRoute
from api.schemas.insight import EngineStatus
from api.services.engine import engine_status

router = APIRouter(route_class=JsonRoute, tags=["status"], responses=ERROR_RESPONSES)


@router.get("/status", response_model=EngineStatus)
async def get_status(
    _: OwnerDep, session: SessionDep, state: StateDep, now: NowDep
) -> EngineStatus:
    """Whether Temporal is reachable and a worker polls, and what the last tick found."""
    return await engine_status(session, state.temporal, state.settings, now=now)
