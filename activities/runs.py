"""Index writes on behalf of the job-run workflow: a run's start, its end, and the job's counters.

Both are idempotent, so an activity retried after a worker died cannot count a run twice. They
are on every run's path, so they use a few Core statements rather than ORM round trips.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.chains import chain_jobs, continue_into_chains, root_chains
from api.index.models import Job, Run
from domain.payloads import JobSnapshot, RunFinish, RunFinished, RunStart, RunStarted

_FAILED = ("failed", "timed_out")
jobs: sa.Table = Job.__table__  # type: ignore[attr-defined]
runs: sa.Table = Run.__table__  # type: ignore[attr-defined]


class RunRecorder:
    """Activities that record runs in the index; built once in the worker."""

    def __init__(self, engine: AsyncEngine, temporal: Client) -> None:
        self._engine = engine
        self._temporal = temporal

    @activity.defn(name="record_run_start")
    async def record_start(self, start: RunStart) -> RunStarted:
        """Insert the run as ``running`` (once) and answer the job as it is now."""
        async with self._engine.begin() as conn:
            job = (await conn.execute(sa.select(jobs).where(jobs.c.id == start.job_id))).first()
            if job is None or job.deleted_at is not None:
                return RunStarted(job=None)
            values = start.model_dump(exclude={"run_id"}) | {"id": start.run_id}
            # A triggered run was inserted by the API already; it only lacks Temporal's run id.
            await conn.execute(
                _insert(conn)(runs)
                .values(status="running", attempts=0, **values)
                .on_conflict_do_update(
                    index_elements=[runs.c.id],
                    set_={
                        "temporal_run_id": sa.func.coalesce(
                            runs.c.temporal_run_id, start.temporal_run_id
                        )
                    },
                )
            )
            return RunStarted(job=JobSnapshot.of(dict(job._mapping)))

    @activity.defn(name="record_run_finish")
    async def record_finish(self, finish: RunFinish) -> RunFinished:
        """Record the run's end, update its job, continue into chains; a retry changes nothing.

        One query reads the run, its job and whether the job roots a chain. Chain runs start
        after the commit, on a retry too, under ids that cannot start twice.
        """
        async with self._engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        runs.c.status.label("run_status"),
                        runs.c.started_at.label("run_started_at"),
                        runs.c.trigger.label("run_trigger"),
                        sa.exists()
                        .where(chain_jobs.c.job_id == runs.c.job_id, chain_jobs.c.is_root)
                        .label("chain_root"),
                        jobs,
                    )
                    .select_from(runs.outerjoin(jobs, jobs.c.id == runs.c.job_id))
                    .where(runs.c.id == finish.run_id)
                )
            ).first()
            if row is None:
                return RunFinished()
            finished = RunFinished()
            if row.run_status == "running":
                finished = await self._record(conn, finish, row)
            roots = []
            if row.chain_root and row.run_trigger != "chain":
                roots = await root_chains(conn, finish.job_id)
        await continue_into_chains(
            self._temporal, roots, finish, task_queue=activity.info().task_queue
        )
        return finished

    async def _record(self, conn: AsyncConnection, finish: RunFinish, row: Any) -> RunFinished:
        """Write the run's end and its job's counters (``row``: the run and its job's columns)."""
        started_at = row.run_started_at
        duration = (finish.completed_at - started_at).total_seconds() if started_at else None
        await conn.execute(
            runs.update()
            .where(runs.c.id == finish.run_id)
            .values(
                status=finish.status,
                temporal_run_id=finish.temporal_run_id,
                completed_at=finish.completed_at,
                duration_seconds=duration,
                attempts=finish.attempts,
                attempt_errors=[e.model_dump(mode="json") for e in finish.attempt_errors],
                output=finish.output,
                data=finish.data,
                error=finish.error,
                condition_result=finish.condition_result,
                delivery=finish.delivery,
            )
        )
        if row.id is None or row.deleted_at is not None:
            return RunFinished()
        changes = _counted(row._mapping, finish.status, started_at, row.run_trigger)
        await conn.execute(jobs.update().where(jobs.c.id == row.id).values(**changes))
        auto_paused = changes.get("status") == "paused"
        if auto_paused:
            await self._pause_schedule(row.id, changes["paused_reason"])
        return RunFinished(job_status=changes.get("status", row.status), auto_paused=auto_paused)

    async def _pause_schedule(self, job_id: str, reason: str) -> None:
        try:
            await self._temporal.get_schedule_handle(job_id).pause(note=reason)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise


def _insert(conn: AsyncConnection) -> Any:
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def _counted(job: Any, status: str, started_at: Any, trigger: str) -> dict[str, Any]:
    """The job's new counters after a run ended with ``status``; may pause or finish it."""
    changes: dict[str, Any] = {"run_count": job["run_count"] + 1}
    if started_at is not None and (job["last_run_at"] is None or started_at > job["last_run_at"]):
        changes["last_run_at"] = started_at
    failures = job["consecutive_failures"]
    if status == "completed":
        failures = 0
    elif status in _FAILED:
        failures += 1
    changes["consecutive_failures"] = failures
    if job["schedule"].get("type") == "at" and trigger == "schedule":
        if status in ("completed", "skipped"):  # a skipped one-off is done too
            changes["status"] = "completed"
        elif status in _FAILED:
            changes["status"] = "failed"
        return changes
    limit = job["max_consecutive_failures"]
    if job["status"] == "active" and limit and failures >= limit:
        changes["status"] = "paused"
        changes["paused_reason"] = f"paused after {failures} consecutive failed runs"
    return changes
