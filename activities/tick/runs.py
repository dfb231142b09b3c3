"""The run repairs: the index's runs made to agree with their workflows in Temporal.

Which runs are checked: those the index shows running since before the grace period (at most
``MAX_RUNS_DESCRIBED``), and those that closed in Temporal since the last tick but are not
recorded finished. Each is settled by one of:

- ``runs_recorded``: a run that finished in Temporal but not in the index (or is missing there)
  gets its end recorded, counted only when the tick's write ended it (not when the worker
  recorded it meanwhile); a run Temporal never had (the API process that triggered it died
  before the start) is recorded ``skipped`` (``_record_lost``);
- ``stuck_runs_ended``: a run still running in Temporal past the longest its job's timeout and
  retries allow (``domain.retry.longest_run_seconds``) is terminated and recorded ``timed_out``
  with the reason, so its job's next fires are not skipped behind it (``_end_stuck``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import (
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)

from activities.tick.scope import TickScope
from api.core.index import runs as index_runs
from api.core.temporal import missing_ok
from domain import search_attributes
from domain.contract.names import RUN_WORKFLOW
from domain.contract.runs import JobRunResult, RunFinish, RunStart
from domain.retry import RetryPolicy, longest_run_seconds

# Runs older than this that the index still shows running are checked one by one.
MAX_RUNS_DESCRIBED = 500
# Workflows described at once.
DESCRIBED_AT_ONCE = 20
# The reason a triggered run that Temporal never started was skipped.
NEVER_STARTED = "the run never started in Temporal (the request that triggered it did not finish)"
_CLOSED_STATUS = {
    WorkflowExecutionStatus.FAILED: ("failed", "the run's workflow failed in Temporal"),
    WorkflowExecutionStatus.CANCELED: ("cancelled", "run cancelled"),
    WorkflowExecutionStatus.TERMINATED: ("cancelled", "the run's workflow was terminated"),
    WorkflowExecutionStatus.TIMED_OUT: ("timed_out", "the run's workflow timed out"),
}


async def repair_runs(
    tick: TickScope, live: dict[str, Any], last_tick: datetime | None
) -> tuple[int, Counter[str]]:
    """Settle the runs the index may have wrong; answers how many were checked and the
    repairs made, by kind."""
    async with tick.engine.connect() as conn:
        running = await index_runs.stale_running_runs(
            conn, started_before=tick.settled, limit=MAX_RUNS_DESCRIBED
        )
    running_ids = set(running)
    checked = 0
    repairs: Counter[str] = Counter()
    gate = asyncio.Semaphore(DESCRIBED_AT_ONCE)

    async def check(run_id: str, deadline: datetime | None = None) -> str | None:
        async with gate:
            return await record_if_closed(tick, run_id, deadline)

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
        max(last_tick - timedelta(minutes=5), tick.now - timedelta(days=1))
        if last_tick
        else (tick.now - timedelta(hours=1))
    )
    query = (
        f'TaskQueue = "{tick.settings.task_queue}" AND WorkflowType = "{RUN_WORKFLOW}" '
        f'AND ExecutionStatus != "Running" AND CloseTime > "{since.isoformat()}"'
    )
    closed = [w.id async for w in tick.client.list_workflows(query)]
    if closed:
        async with tick.engine.connect() as conn:
            finished = await index_runs.finished_run_ids(conn, run_ids=closed)
        known = finished | running_ids
        missing = [run_id for run_id in closed if run_id not in known]
        for repair in await asyncio.gather(*(check(run_id) for run_id in missing)):
            checked += 1
            if repair:
                repairs[repair] += 1
        checked += len(closed) - len(missing)
    return checked, repairs


async def record_if_closed(
    tick: TickScope, run_id: str, deadline: datetime | None = None
) -> str | None:
    """Record a run whose workflow closed, or end one still running past ``deadline``;
    the kind of repair if the index changed, else None."""
    handle = tick.client.get_workflow_handle(run_id, result_type=JobRunResult)
    description = await missing_ok(handle.describe())
    if description is None:
        return "runs_recorded" if await _record_lost(tick, run_id) else None
    if description.status == WorkflowExecutionStatus.CONTINUED_AS_NEW:
        return None
    if description.status in (None, WorkflowExecutionStatus.RUNNING):
        if deadline is None or tick.now < deadline:
            return None
        stuck = await _end_stuck(handle, description, tick.now)
        if (start := _run_start(run_id, description)) is None:
            return None
        ended = await _record(tick, start, stuck, completed_at=tick.now)
        return "stuck_runs_ended" if ended else None
    if (start := _run_start(run_id, description)) is None:
        return None
    result = await _closed_result(handle, description.status)
    recorded = await _record(tick, start, result, completed_at=description.close_time or tick.now)
    return "runs_recorded" if recorded else None


async def _record_lost(tick: TickScope, run_id: str) -> bool:
    """A run the index shows running that Temporal never had (the API process that
    triggered it died before the start): ``skipped``, not failed. Its agent never ran, so
    it counts towards no failure streak and never pauses its job."""
    async with tick.engine.connect() as conn:
        job_id = await index_runs.run_job_id(conn, run_id=run_id)
    if job_id is None:
        return False
    finished = await tick.recorder.record_finish(
        RunFinish(
            run_id=run_id,
            temporal_run_id="",
            job_id=job_id,
            status="skipped",
            completed_at=tick.now,
            skip_reason=NEVER_STARTED,
        )
    )
    return finished.recorded


async def _end_stuck(
    handle: WorkflowHandle[Any, JobRunResult],
    description: WorkflowExecutionDescription,
    now: datetime,
) -> JobRunResult:
    """Terminate a run still running past the longest its job allows; what it ended with."""
    stuck = JobRunResult(
        status="timed_out",
        error=f"the run was still running {_minutes(now - description.start_time)} "
        "after it started, longer than its job's timeout and retries allow: "
        "the reconciler ended it",
    )
    await missing_ok(handle.terminate(reason=stuck.error))
    return stuck


def _run_start(run_id: str, description: WorkflowExecutionDescription) -> RunStart | None:
    """The run's start as its workflow's search attributes tell it (None without a job or
    owner: not a run of ours to record)."""
    attributes = description.typed_search_attributes
    job_id = attributes.get(search_attributes.JOB_ID)
    owner = attributes.get(search_attributes.OWNER)
    if not job_id or not owner:
        return None
    trigger = attributes.get(search_attributes.TRIGGER) or "schedule"
    return RunStart(
        run_id=run_id,
        temporal_run_id=description.run_id,
        job_id=job_id,
        owner=owner,
        trigger=trigger if trigger in ("schedule", "manual", "chain", "hook") else "schedule",
        scheduled_at=attributes.get(search_attributes.SCHEDULED_START),
        started_at=description.start_time,
    )


async def _record(
    tick: TickScope, start: RunStart, result: JobRunResult, *, completed_at: datetime
) -> bool:
    """Record the run's start and its end; whether the end was this write's (the run
    recorder may have written it since the index was read: not a repair then)."""
    started = await tick.recorder.record_start(start)
    if started.job is None:
        return False
    finished = await tick.recorder.record_finish(
        RunFinish(
            run_id=start.run_id,
            temporal_run_id=start.temporal_run_id,
            job_id=start.job_id,
            status=result.status,
            completed_at=completed_at,
            output=result.output,
            data=result.data,
            error=result.error,
            usage=result.usage,
            cut=result.cut,
            answer_notes=result.answer_notes,
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
