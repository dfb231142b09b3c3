"""Owner activity: API calls counted in the background, host events ingested in batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.core.errors import FieldError, Invalid
from api.core.index.activity import add_api_minutes, add_events
from api.schemas.insight import ActivityAccepted, ActivityBatch

log = logging.getLogger(__name__)

API_CALL_KIND = "api"
# Clocks of the host platform and ours may disagree a little.
FUTURE_SKEW = timedelta(seconds=60)


class ActivityRecorder:
    """Counts each owner's API calls as one ``api`` event per minute with calls.

    ``note`` only touches memory; a background task writes what accumulated every
    ``interval`` seconds in one transaction, so a call never waits for an activity write.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, interval: float = 5.0):
        self._sessions = sessions
        self._interval = interval
        self._pending: set[tuple[str, int]] = set()
        self._written: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def note(self, owner: str) -> None:
        """Count a call of ``owner`` now."""
        minute = int(time.time()) // 60
        if self._written.get(owner) != minute:
            self._pending.add((owner, minute))

    async def flush(self) -> None:
        """Write what accumulated (best effort: a failed write is logged and dropped)."""
        pending, self._pending = self._pending, set()
        calls = [
            (owner, minute)
            for owner, minute in sorted(pending)
            if self._written.get(owner, -1) < minute
        ]
        if not calls:
            return
        try:
            async with self._sessions() as session:
                # Another API replica may have recorded the same minutes: they count once.
                await add_api_minutes(session, calls, kind=API_CALL_KIND)
                await session.commit()
        except Exception:
            log.warning("could not record %d activity events", len(calls), exc_info=True)
            return
        for owner, minute in calls:
            self._written[owner] = max(self._written.get(owner, -1), minute)

    def start(self) -> None:
        """Start writing in the background."""
        self._task = asyncio.create_task(self._loop(), name="activity-recorder")

    async def aclose(self) -> None:
        """Stop the background writer and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()


async def ingest(
    session: AsyncSession, *, owner: str, batch: ActivityBatch, now: datetime
) -> ActivityAccepted:
    """Record host-platform events; none may be in the future."""
    late = now + FUTURE_SKEW
    bad = [
        FieldError(field=f"events.{i}.at", message="must not be in the future")
        for i, event in enumerate(batch.events)
        if event.at > late
    ]
    if bad:
        raise Invalid(f"{len(bad)} event(s) are in the future", details=bad)
    await add_events(
        session, [(owner, event.at.astimezone(UTC), event.kind) for event in batch.events]
    )
    await session.commit()
    return ActivityAccepted(accepted=len(batch.events))
