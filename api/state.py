"""What the API process holds for its lifetime: built in the lifespan, read by every request."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.core.settings import Settings
from api.core.temporal import TemporalConnection
from api.services.engine import Background
from api.services.jobs import Agents
from api.services.planned import PlannedFires


@dataclass
class AppState:
    """What the lifespan builds once and every request reads (``app.state.app``)."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]  # for GET: no transaction (make_read_...)
    temporal: TemporalConnection
    agents: Agents
    planned: PlannedFires = field(default_factory=PlannedFires)  # the calendar's fires


async def start_background(app: FastAPI, state: AppState) -> Background:
    """Start the API's background work; ``app.state.activity`` is its activity recorder, which
    every authenticated call notes (``api.deps.note_call``)."""
    background = Background(
        sessions=state.sessions, temporal=state.temporal, settings=state.settings
    )
    app.state.activity = background.activity
    background.start()
    return background
