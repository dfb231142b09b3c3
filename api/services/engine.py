"""Engine status, and what the API runs besides requests (activity writer, tick schedule)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from api.core.errors import Unavailable
from api.core.index import ticks as index_ticks
from api.core.schedules import ensure_tick_schedule, tick_schedule_id
from api.core.settings import Settings
from api.core.temporal import API_RPC_TIMEOUT, TemporalConnection, missing_ok
from api.schemas.insight import (
    EngineStatus,
    TemporalStatus,
    TickSummary,
    WorkerPoller,
)
from api.services.activity import ActivityRecorder

log = logging.getLogger(__name__)

# A worker long-polls for about a minute, so a live one was seen within this.
POLLER_FRESH = timedelta(seconds=90)
ENSURE_RETRY_SECONDS = 30.0


class Background:
    """What the API runs besides requests: the activity writer, and the tick's schedule."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        temporal: TemporalConnection,
        settings: Settings,
    ) -> None:
        self.activity = ActivityRecorder(sessions)
        self._temporal = temporal
        self._settings = settings
        self._ensure: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the activity writer, and ensure the tick's schedule (retried until it is)."""
        self.activity.start()
        if self._settings.tick_interval_seconds > 0:
            self._ensure = asyncio.create_task(self._ensure_tick(), name="ensure-tick-schedule")

    async def aclose(self) -> None:
        """Stop both; what the activity writer holds is written."""
        if self._ensure is not None:
            self._ensure.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ensure
        await self.activity.aclose()

    async def _ensure_tick(self) -> None:
        while True:
            try:
                await ensure_tick_schedule(await self._temporal.client(), self._settings)
                return
            except (Unavailable, RPCError) as exc:
                log.warning("could not ensure the tick schedule yet: %s", exc)
            await asyncio.sleep(ENSURE_RETRY_SECONDS)


async def _pollers(client: Client, settings: Settings, now: datetime) -> list[WorkerPoller]:
    seen: dict[str, WorkerPoller] = {}
    for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=settings.temporal_namespace,
                task_queue=TaskQueue(name=settings.task_queue),
                task_queue_type=kind,
            ),
            # Service calls bypass the client interceptors: the same deadline as the others.
            timeout=API_RPC_TIMEOUT,
        )
        for poller in response.pollers:
            at = (
                poller.last_access_time.ToDatetime(tzinfo=UTC)
                if poller.HasField("last_access_time")
                else None
            )
            if at is not None and now - at > POLLER_FRESH:
                continue
            known = seen.get(poller.identity)
            if known is None or (at and (known.last_access_time or at) <= at):
                seen[poller.identity] = WorkerPoller(identity=poller.identity, last_access_time=at)
    return sorted(seen.values(), key=lambda p: p.identity)


async def engine_status(
    session: AsyncSession, temporal: TemporalConnection, settings: Settings, *, now: datetime
) -> EngineStatus:
    """Status of the engine: Temporal, its workers and the last ticks."""
    recent = await index_ticks.ticks_since(session, since=now - timedelta(days=1))
    last = recent[0] if recent else None
    totals: Counter[str] = Counter()
    for tick in recent:
        totals.update({k: int(v) for k, v in tick.repairs.items()})
    reachable, workers, next_tick = True, [], None
    try:
        client = await temporal.client()
        workers = await _pollers(client, settings, now)
        if settings.tick_interval_seconds > 0:
            handle = client.get_schedule_handle(tick_schedule_id(settings))
            if (described := await missing_ok(handle.describe())) is not None:
                times = described.info.next_action_times
                next_tick = times[0] if times else None
    except (Unavailable, RPCError) as exc:
        log.warning("engine status: Temporal unreachable: %s", exc)
        reachable, workers = False, []
    return EngineStatus(
        running=reachable and bool(workers),
        tick_interval_seconds=settings.tick_interval_seconds,
        last_tick_at=last.started_at if last else None,
        next_tick_at=next_tick,
        jobs_checked_last_tick=last.jobs_checked if last else None,
        last_tick=None
        if last is None
        else TickSummary(
            started_at=last.started_at,
            finished_at=last.finished_at,
            jobs_checked=last.jobs_checked,
            schedules_checked=last.schedules_checked,
            runs_checked=last.runs_checked,
            repairs={k: int(v) for k, v in last.repairs.items()},
        ),
        repairs_last_24h=dict(sorted(totals.items())),
        temporal=TemporalStatus(
            address=settings.temporal_address,
            namespace=settings.temporal_namespace,
            reachable=reachable,
        ),
        task_queue=settings.task_queue,
        workers=workers,
    )
