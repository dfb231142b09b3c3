"""The tick's work: compare the index with Temporal and repair any drift, then record it.

Drift it repairs (each counted under its key in ``repairs``):

- ``schedules_recreated``: a live job whose Temporal schedule is missing;
- ``schedules_resynced``: a schedule paused while its job is active, or the reverse;
- ``orphan_schedules_deleted``: a job schedule of this deployment with no live job;
- ``deleted_jobs_purged``: a job marked deleted whose delete did not finish;
- ``runs_recorded``: a run that finished in Temporal but not in the index (or is missing there),
  counted only when the tick's write ended it (not when the worker recorded it meanwhile);
- ``stuck_runs_ended``: a run still running in Temporal past the longest its job's timeout and
  retries allow (``domain.retry.longest_run_seconds``): its workflow is terminated and the run
  recorded ``timed_out`` with the reason, so its job's next fires are not skipped behind it.

A stored ``next_run_at`` that is no longer the next fire is refreshed too; that is upkeep (every
fire makes one stale), not drift, so it is counted apart, in ``next_run_at_refreshed``. So is
resuming a job its budget paused once the window that paused it has ended (``budget_reopened``;
a job the user paused is never resumed).

Rows and schedules younger than the grace period are left alone: the API may be between the
two writes of a create or delete.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import (
    Client,
    Schedule,
    ScheduleAlreadyRunningError,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)

from activities.runs import RunRecorder
from api.core.index import deliveries as index_deliveries
from api.core.index import idempotency as index_idempotency
from api.core.index import jobs as index_jobs
from api.core.index import runs as index_runs
from api.core.index import ticks as index_ticks
from api.core.index.models import Job
from api.core.schedules import (
    build_schedule,
    job_search_attributes,
    parse_schedule,
    schedule_memo,
)
from api.core.settings import Settings
from api.core.temporal import missing_ok
from domain import search_attributes
from domain.contract.names import RECONCILE, RUN_WORKFLOW
from domain.contract.runs import JobRunResult, RunFinish, RunStart
from domain.contract.tick import ReconcileInput, TickResult
from domain.retry import RetryPolicy, longest_run_seconds
from domain.schedules import next_fire_time

log = logging.getLogger(__name__)


# Runs older than this that the index still shows running are checked one by one.
MAX_RUNS_DESCRIBED = 500
TICKS_KEPT = timedelta(days=1)
# A delivery's sent messages are remembered this long (its retries end within half an hour).
DELIVERIES_KEPT = timedelta(days=7)
# Idempotency keys replay their first answer for 24 hours (api/services/idempotency.py).
IDEMPOTENCY_KEYS_KEPT = timedelta(hours=24)
# The reason a triggered run that Temporal never started was skipped.
NEVER_STARTED = "the run never started in Temporal (the request that triggered it did not finish)"
_CLOSED_STATUS = {
    WorkflowExecutionStatus.FAILED: ("failed", "the run's workflow failed in Temporal"),
    WorkflowExecutionStatus.CANCELED: ("cancelled", "run cancelled"),
    WorkflowExecutionStatus.TERMINATED: ("cancelled", "the run's workflow was terminated"),
    WorkflowExecutionStatus.TIMED_OUT: ("timed_out", "the run's workflow timed out"),
}


class TickActivities:
    """The reconciler; built once in the worker."""

    def __init__(
        self,
        engine: AsyncEngine,
        client: Client,
        settings: Settings,
        *,
        recorder: RunRecorder,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._engine = engine
        self._client = client
        self._settings = settings
        self._recorder = recorder
        self._clock = clock or (lambda: datetime.now(UTC))

    @activity.defn(name=RECONCILE)
    async def reconcile(self, tick: ReconcileInput) -> TickResult:
        """Compare the index with Temporal, repair what drifted and record the tick."""
        started = self._clock()
        settled = started - timedelta(seconds=tick.grace_seconds)
        repairs: Counter[str] = Counter()
        async with self._engine.connect() as conn:
            rows = await index_jobs.all_job_rows(conn)
            last_tick = await index_ticks.last_tick_started_at(conn)
        live = {row.id: row for row in rows if row.deleted_at is None}
        deleted = {row.id: row for row in rows if row.deleted_at is not None}
        listed = await self._job_schedules()
        await self._repair_schedules(live, deleted, listed, settled, repairs)
        reopened = await self._reopen_budget_paused(live, started)
        refreshed = await self._refresh_next_runs(live, started)
        runs_checked = await self._repair_runs(live, started, settled, last_tick, repairs)
        repairs = +repairs  # drop the kinds that found nothing
        result = TickResult(
            jobs_checked=len(live),
            schedules_checked=len(listed),
            runs_checked=runs_checked,
            repairs=dict(sorted(repairs.items())),
            next_run_at_refreshed=refreshed,
            budget_reopened=reopened,
        )
        async with self._engine.begin() as conn:
            await index_ticks.record_tick(
                conn,
                workflow_id=tick.workflow_id,
                started_at=started,
                finished_at=max(self._clock(), started),
                counts=result.model_dump(exclude={"budget_reopened"}),
            )
            await index_ticks.forget_ticks_before(conn, before=started - TICKS_KEPT)
            await index_deliveries.forget_deliveries_before(conn, before=started - DELIVERIES_KEPT)
            await index_idempotency.forget_keys_before(conn, before=started - IDEMPOTENCY_KEYS_KEPT)
        if result.repairs:
            log.info("tick repaired %s", result.repairs)
        if refreshed:
            log.debug("tick refreshed %d stored next fires", refreshed)
        if reopened:
            log.info("tick resumed %d jobs whose budget window rolled over", reopened)
        return result

    async def _reopen_budget_paused(self, live: dict[str, Any], now: datetime) -> int:
        """Resume the jobs their budget paused whose window has ended: the row (only if it is
        still as read), then the schedule; answers how many. A schedule left paused by a
        failure here is resynced by a later tick, as any drift."""
        due = [
            row
            for row in live.values()
            if row.status == "paused"
            and row.budget_reopens_at is not None
            and row.budget_reopens_at <= now
        ]
        reopened = 0
        for row in due:
            try:
                following = next_fire_time(parse_schedule(row.schedule), after=now)
            except ValueError:
                following = None
            async with self._engine.begin() as conn:
                resumed = await index_jobs.reopen_after_budget(
                    conn,
                    job_id=row.id,
                    reopens_at=row.budget_reopens_at,
                    at=now,
                    next_run_at=following,
                )
            if not resumed:
                continue
            await missing_ok(
                self._client.get_schedule_handle(row.id).unpause(
                    note=f"budget window ended {row.budget_reopens_at.isoformat()}"
                )
            )
            log.info("job %s resumed: its budget window ended", row.id)
            reopened += 1
        return reopened

    async def _job_schedules(self) -> dict[str, Any]:
        """Schedules carrying a job id (any deployment's: the task queue is checked on use)."""
        listed: dict[str, Any] = {}
        async for entry in await self._client.list_schedules():
            if entry.typed_search_attributes.get(search_attributes.JOB_ID):
                listed[entry.id] = entry
        return listed

    async def _repair_schedules(
        self,
        live: dict[str, Any],
        deleted: dict[str, Any],
        listed: dict[str, Any],
        settled: datetime,
        repairs: Counter[str],
    ) -> None:
        for job_id, row in live.items():
            if row.status not in ("active", "paused") or row.updated_at > settled:
                continue
            entry = listed.get(job_id)
            if entry is None:
                # Listing is eventually consistent: confirm before recreating.
                if await self._describe_schedule(job_id) is None:
                    await self._recreate(row)
                    repairs["schedules_recreated"] += 1
            elif entry.schedule.state.paused != (row.status != "active"):
                # Listing lags and the API may be mid-update: confirm on a settled schedule.
                description = await self._describe_schedule(job_id)
                if (
                    description is None
                    or description.schedule.state.paused == (row.status != "active")
                    or (description.info.last_updated_at or settled) > settled
                ):
                    continue
                job = Job.model_validate(dict(row._mapping))
                schedule = build_schedule(
                    job,
                    task_queue=self._settings.task_queue,
                    default_catchup_window_seconds=self._settings.catchup_window_seconds,
                )
                await self._client.get_schedule_handle(job_id).update(_replace_with(schedule))
                repairs["schedules_resynced"] += 1
        gate = asyncio.Semaphore(20)

        async def is_orphan(schedule_id: str) -> bool:
            async with gate:
                description = await self._describe_schedule(schedule_id)
            if description is None or description.info.created_at > settled:
                return False
            action = description.schedule.action
            # Another deployment's schedule in the same namespace is not ours to judge.
            return getattr(action, "task_queue", None) == self._settings.task_queue

        unknown = sorted(listed.keys() - live.keys())
        for schedule_id, orphan in zip(
            unknown, await asyncio.gather(*(is_orphan(s) for s in unknown)), strict=True
        ):
            if orphan:
                await self._delete_schedule(schedule_id)
                repairs["orphan_schedules_deleted"] += 1
        for job_id, row in deleted.items():
            if row.deleted_at > settled:
                continue
            await self._delete_schedule(job_id)
            async with self._engine.begin() as conn:
                await index_jobs.delete_job_rows(conn, job_id=job_id)
            repairs["deleted_jobs_purged"] += 1

    async def _describe_schedule(self, schedule_id: str) -> Any:
        return await missing_ok(self._client.get_schedule_handle(schedule_id).describe())

    async def _delete_schedule(self, schedule_id: str) -> None:
        await missing_ok(self._client.get_schedule_handle(schedule_id).delete())

    async def _recreate(self, row: Any) -> None:
        job = Job.model_validate(dict(row._mapping))
        try:
            await self._client.create_schedule(
                job.id,
                build_schedule(
                    job,
                    task_queue=self._settings.task_queue,
                    default_catchup_window_seconds=self._settings.catchup_window_seconds,
                ),
                memo=schedule_memo(job),
                search_attributes=job_search_attributes(job, "schedule"),
            )
        except ScheduleAlreadyRunningError:
            pass  # it came back meanwhile
        log.warning("tick recreated the missing schedule of %s", job.id)

    async def _refresh_next_runs(self, live: dict[str, Any], now: datetime) -> int:
        """Bring stored next fires up to date; answers how many changed."""
        changed: list[dict[str, Any]] = []
        for row in live.values():
            expected = None
            if row.status == "active":
                try:
                    expected = next_fire_time(parse_schedule(row.schedule), after=now)
                except ValueError:
                    continue
            if expected != row.next_run_at:
                changed.append({"job_id": row.id, "seen": row.updated_at, "next": expected})
        if not changed:
            return 0
        refreshed = 0
        async with self._engine.begin() as conn:
            for change in changed:
                # Only if the API did not change the job meanwhile.
                refreshed += await index_jobs.refresh_next_run(
                    conn, job_id=change["job_id"], seen=change["seen"], next_run_at=change["next"]
                )
        return refreshed

    async def _repair_runs(
        self,
        live: dict[str, Any],
        now: datetime,
        settled: datetime,
        last_tick: datetime | None,
        repairs: Counter[str],
    ) -> int:
        async with self._engine.connect() as conn:
            running = await index_runs.stale_running_runs(
                conn, started_before=settled, limit=MAX_RUNS_DESCRIBED
            )
        running_ids = set(running)
        checked = 0
        gate = asyncio.Semaphore(20)

        async def check(run_id: str, deadline: datetime | None = None) -> str | None:
            async with gate:
                return await self._record_if_closed(run_id, now, deadline)

        def deadline(job_id: str, started_at: datetime | None) -> datetime | None:
            job = live.get(job_id)
            if job is None or started_at is None:
                return None
            policy = RetryPolicy.model_validate(job.retry or {})
            return started_at + timedelta(seconds=longest_run_seconds(policy, job.timeout_seconds))

        for repair in await asyncio.gather(
            *(check(run_id, deadline(*running[run_id])) for run_id in running)
        ):
            checked += 1
            if repair:
                repairs[repair] += 1
        # Runs that closed since the last tick (with a margin) and are not recorded at all.
        since = (
            max(last_tick - timedelta(minutes=5), now - timedelta(days=1))
            if last_tick
            else (now - timedelta(hours=1))
        )
        query = (
            f'TaskQueue = "{self._settings.task_queue}" AND WorkflowType = "{RUN_WORKFLOW}" '
            f'AND ExecutionStatus != "Running" AND CloseTime > "{since.isoformat()}"'
        )
        closed = [w.id async for w in self._client.list_workflows(query)]
        if closed:
            async with self._engine.connect() as conn:
                finished = await index_runs.finished_run_ids(conn, run_ids=closed)
            known = finished | running_ids
            missing = [run_id for run_id in closed if run_id not in known]
            for repair in await asyncio.gather(*(check(run_id) for run_id in missing)):
                checked += 1
                if repair:
                    repairs[repair] += 1
            checked += len(closed) - len(missing)
        return checked

    async def _record_if_closed(
        self, run_id: str, now: datetime, deadline: datetime | None = None
    ) -> str | None:
        """Record a run whose workflow closed, or end one still running past ``deadline``;
        the kind of repair if the index changed, else None."""
        handle = self._client.get_workflow_handle(run_id, result_type=JobRunResult)
        description = await missing_ok(handle.describe())
        if description is None:
            return "runs_recorded" if await self._record_lost(run_id, now) else None
        stuck: JobRunResult | None = None
        if description.status in (None, WorkflowExecutionStatus.RUNNING):
            if deadline is None or now < deadline:
                return None
            stuck = JobRunResult(
                status="timed_out",
                error=f"the run was still running {_minutes(now - description.start_time)} "
                "after it started, longer than its job's timeout and retries allow: "
                "the reconciler ended it",
            )
            await missing_ok(handle.terminate(reason=stuck.error))
        elif description.status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
            return None
        attributes = description.typed_search_attributes
        job_id = attributes.get(search_attributes.JOB_ID)
        owner = attributes.get(search_attributes.OWNER)
        if not job_id or not owner:
            return None
        trigger = attributes.get(search_attributes.TRIGGER) or "schedule"
        result = stuck or await _closed_result(handle, description.status)
        started = await self._recorder.record_start(
            RunStart(
                run_id=run_id,
                temporal_run_id=description.run_id,
                job_id=job_id,
                owner=owner,
                trigger=trigger if trigger in ("schedule", "manual", "chain") else "schedule",
                scheduled_at=attributes.get(search_attributes.SCHEDULED_START),
                started_at=description.start_time,
            )
        )
        if started.job is None:
            return None
        finished = await self._recorder.record_finish(
            RunFinish(
                run_id=run_id,
                temporal_run_id=description.run_id,
                job_id=job_id,
                status=result.status,
                completed_at=description.close_time or now if stuck is None else now,
                output=result.output,
                data=result.data,
                error=result.error,
                usage=result.usage,
                cut=result.cut,
                answer_notes=result.answer_notes,
            )
        )
        # The run recorder may have written it since the index was read: not a repair then.
        if not finished.recorded:
            return None
        return "runs_recorded" if stuck is None else "stuck_runs_ended"

    async def _record_lost(self, run_id: str, now: datetime) -> bool:
        """A run the index shows running that Temporal never had (the API process that
        triggered it died before the start): ``skipped``, not failed. Its agent never ran, so
        it counts towards no failure streak and never pauses its job."""
        async with self._engine.connect() as conn:
            job_id = await index_runs.run_job_id(conn, run_id=run_id)
        if job_id is None:
            return False
        finished = await self._recorder.record_finish(
            RunFinish(
                run_id=run_id,
                temporal_run_id="",
                job_id=job_id,
                status="skipped",
                completed_at=now,
                skip_reason=NEVER_STARTED,
            )
        )
        return finished.recorded


async def _closed_result(
    handle: WorkflowHandle[Any, JobRunResult], status: WorkflowExecutionStatus | None
) -> JobRunResult:
    """What a run whose workflow closed with ``status`` ended with."""
    if status == WorkflowExecutionStatus.COMPLETED:
        try:
            return await handle.result()
        except WorkflowFailureError:
            return JobRunResult(status="failed", error="the run's workflow failed")
    known = _CLOSED_STATUS.get(status) if status is not None else None
    state, message = known or ("failed", "the run's workflow failed in Temporal")
    return JobRunResult(status=state, error=message)


def _minutes(elapsed: timedelta) -> str:
    return f"{elapsed.total_seconds() / 60:,.0f} min"


def _replace_with(schedule: Schedule) -> Callable[[ScheduleUpdateInput], ScheduleUpdate]:
    return lambda _: ScheduleUpdate(schedule=schedule)
