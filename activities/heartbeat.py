"""Heartbeating while an activity works, so a worker or a completion lost with it is noticed
within the workflow's ``heartbeat_timeout`` rather than its ``start_to_close_timeout``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from temporalio import activity

# Often enough that cancellation and a dead worker are noticed within seconds, and well within
# every workflow's heartbeat timeout (the SDK throttles what it sends to a fraction of it).
HEARTBEAT_EVERY = 1.0


@asynccontextmanager
async def heartbeating(details: Callable[[], Any] | None = None) -> AsyncIterator[None]:
    """Heartbeat every ``HEARTBEAT_EVERY`` seconds for the ``with`` body, with what ``details``
    answers at each beat (an empty heartbeat would erase earlier details)."""
    task = asyncio.create_task(_beat(details))
    try:
        yield
    finally:
        task.cancel()


async def _beat(details: Callable[[], Any] | None) -> None:
    while True:
        if details is None:
            activity.heartbeat()
        else:
            activity.heartbeat(details())
        await asyncio.sleep(HEARTBEAT_EVERY)
