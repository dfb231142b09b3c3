"""The schedule repairs: each job's Temporal schedule made to match its index row.

- ``schedules_recreated``: a live job whose schedule is missing gets it back;
- ``schedules_resynced``: a schedule paused while its job is active, or the reverse, is
  rebuilt from the job;
- ``orphan_schedules_deleted``: a job schedule of this deployment with no live job is deleted;
- ``deleted_jobs_purged``: a job marked deleted whose delete did not finish loses its schedule
  and rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

from temporalio.client import (
    Schedule,
    ScheduleAlreadyRunningError,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from activities.tick.scope import TickScope, log
from api.core.index import jobs as index_jobs
from api.core.index.models import Job
from api.core.schedules import build_schedule, job_search_attributes, schedule_memo
from api.core.temporal import missing_ok
from domain import search_attributes

# Schedules described at once while looking for orphans.
DESCRIBED_AT_ONCE = 20


async def job_schedules(tick: TickScope) -> dict[str, Any]:
    """Schedules carrying a job id (any deployment's: the task queue is checked on use)."""
    listed: dict[str, Any] = {}
    async for entry in await tick.client.list_schedules():
        if entry.typed_search_attributes.get(search_attributes.JOB_ID):
            listed[entry.id] = entry
    return listed


async def recreate_missing(tick: TickScope, live: dict[str, Any], listed: dict[str, Any]) -> int:
    """Recreate the schedule of each settled live job that has none; answers how many."""
    recreated = 0
    for job_id, row in _settled(tick, live):
        # Listing is eventually consistent: confirm before recreating.
        if job_id not in listed and await _describe(tick, job_id) is None:
            await _recreate(tick, row)
            recreated += 1
    return recreated


async def resync_paused(tick: TickScope, live: dict[str, Any], listed: dict[str, Any]) -> int:
    """Rebuild each settled schedule whose paused state differs from its job's status;
    answers how many."""
    resynced = 0
    for job_id, row in _settled(tick, live):
        entry = listed.get(job_id)
        if entry is None or entry.schedule.state.paused == (row.status != "active"):
            continue
        # Listing lags and the API may be mid-update: confirm on a settled schedule.
        description = await _describe(tick, job_id)
        if (
            description is None
            or description.schedule.state.paused == (row.status != "active")
            or (description.info.last_updated_at or tick.settled) > tick.settled
        ):
            continue
        job = Job.model_validate(dict(row._mapping))
        await tick.client.get_schedule_handle(job_id).update(_replace_with(_schedule_of(tick, job)))
        resynced += 1
    return resynced


async def delete_orphans(tick: TickScope, live: dict[str, Any], listed: dict[str, Any]) -> int:
    """Delete the settled schedules of this deployment that have no live job; answers how
    many."""
    gate = asyncio.Semaphore(DESCRIBED_AT_ONCE)

    async def is_orphan(schedule_id: str) -> bool:
        async with gate:
            description = await _describe(tick, schedule_id)
        if description is None or description.info.created_at > tick.settled:
            return False
        action = description.schedule.action
        # Another deployment's schedule in the same namespace is not ours to judge.
        return getattr(action, "task_queue", None) == tick.settings.task_queue

    unknown = sorted(listed.keys() - live.keys())
    deleted = 0
    for schedule_id, orphan in zip(
        unknown, await asyncio.gather(*(is_orphan(s) for s in unknown)), strict=True
    ):
        if orphan:
            await _delete(tick, schedule_id)
            deleted += 1
    return deleted


async def purge_deleted(tick: TickScope, deleted: dict[str, Any]) -> int:
    """Finish the deletes that did not: the schedule, then the rows; answers how many."""
    purged = 0
    for job_id, row in deleted.items():
        if row.deleted_at > tick.settled:
            continue
        await _delete(tick, job_id)
        async with tick.engine.begin() as conn:
            await index_jobs.delete_job_rows(conn, job_id=job_id)
        purged += 1
    return purged


def _settled(tick: TickScope, live: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The live jobs that should have a schedule and that no request is changing."""
    for job_id, row in live.items():
        if row.status in ("active", "paused") and row.updated_at <= tick.settled:
            yield job_id, row


def _schedule_of(tick: TickScope, job: Job) -> Schedule:
    return build_schedule(
        job,
        task_queue=tick.settings.task_queue,
        default_catchup_window_seconds=tick.settings.catchup_window_seconds,
    )


async def _describe(tick: TickScope, schedule_id: str) -> Any:
    return await missing_ok(tick.client.get_schedule_handle(schedule_id).describe())


async def _delete(tick: TickScope, schedule_id: str) -> None:
    await missing_ok(tick.client.get_schedule_handle(schedule_id).delete())


async def _recreate(tick: TickScope, row: Any) -> None:
    job = Job.model_validate(dict(row._mapping))
    try:
        await tick.client.create_schedule(
            job.id,
            _schedule_of(tick, job),
            memo=schedule_memo(job),
            search_attributes=job_search_attributes(job, "schedule"),
        )
    except ScheduleAlreadyRunningError:
        pass  # it came back meanwhile
    log.warning("tick recreated the missing schedule of %s", job.id)


def _replace_with(schedule: Schedule) -> Callable[[ScheduleUpdateInput], ScheduleUpdate]:
    return lambda _: ScheduleUpdate(schedule=schedule)
