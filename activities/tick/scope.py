"""What every repair of one tick works with: the connections, the settings and its moments."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from activities.runs import RunRecorder
from api.core.settings import Settings

# One logger for the whole tick, whichever module of it logs.
log = logging.getLogger("activities.tick")


@dataclass(frozen=True)
class TickScope:
    """One tick's view of the world, shared by its repairs."""

    engine: AsyncEngine
    client: Client
    settings: Settings
    recorder: RunRecorder
    now: datetime
    """When the tick started: every "now" of its repairs."""
    settled: datetime
    """Rows and schedules changed after this are left alone: the API may be between the two
    writes of a create or delete."""
