"""Agent routes (docs/api.md, "Agents"): what agents jobs may name."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import OwnerDep, StateDep
from api.errors import ERROR_RESPONSES
from api.routing import JsonRoute


class AgentPublic(BaseModel):
    """A configured agent: its id and kind, never its settings (they may hold secrets)."""

    id: str
    kind: str


class AgentsPublic(BaseModel):
    """Every configured agent."""

    agents: list[AgentPublic]


router = APIRouter(
    route_class=JsonRoute, prefix="/agents", tags=["agents"], responses=ERROR_RESPONSES
)


@router.get("", response_model=AgentsPublic)
async def list_agents(state: StateDep, _: OwnerDep) -> AgentsPublic:
    """The agents configured in the agents file, plus the built-in `echo`."""
    return AgentsPublic(
        agents=[
            AgentPublic(id=a_id, kind=agent.kind) for a_id, agent in sorted(state.agents.items())
        ]
    )
