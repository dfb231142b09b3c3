"""Index writes on behalf of the job-run workflow: a run's start, its end, and the job's counters.

Both are idempotent, so an activity retried after a worker died cannot count a run twice. They
are on every run's path, so they use a few Core statements rather than ORM round trips, and
run ends that arrive together share one transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client

from activities.chains import continue_into_chains
from activities.incidents import IncidentNotifier
from activities.incidents import rules as incident_rules
from api.core import metrics, tracing
from api.core.index import audit as index_audit
from api.core.index import backfills as index_backfills
from api.core.index import chains as index_chains
from api.core.index import incidents as index_incidents
from api.core.index import job_events as index_job_events
from api.core.index import jobs as index_jobs
from api.core.index import keys as index_keys
from api.core.index import runs as index_runs
from api.core.temporal import missing_ok
from domain.budgets import Spent, exceeded, windows
from domain.contract.names import CHECK_RUN_BUDGET, RECORD_RUN_FINISH, RECORD_RUN_START
from domain.contract.runs import (
    BudgetCheck,
    BudgetVerdict,
    JobSnapshot,
    RunFinish,
    RunFinished,
    RunStart,
    RunStarted,
)
from domain.timezones import load_timezone

log = logging.getLogger(__name__)
_FAILED = ("failed", "timed_out")
# Run ends written in one transaction at most.
MAX_BATCH = 200


class RunRecorder:
    """Activities that record runs in the index; built once in the worker."""

    def __init__(
        self, engine: AsyncEngine, temporal: Client, *, notifier: IncidentNotifier | None = None
    ) -> None:
        self._engine = engine
        self._temporal = temporal
        # Sends the incident notifications a run end queued, once committed (else the tick).
        self._notifier = notifier
        self._finishes = _GroupCommit(self._record_finishes)

    @activity.defn(name=RECORD_RUN_START)
    async def record_start(self, start: RunStart) -> RunStarted:
        """Insert the run as ``running`` (once) and answer the job as it is now."""
        async with self._engine.begin() as conn:
            job = await index_jobs.job_row(conn, job_id=start.job_id)
            if job is None or job.deleted_at is not None:
                return RunStarted(job=None)
            if (
                start.trigger == "schedule"
                and start.scheduled_at is not None
                and await index_backfills.is_backfilled(
                    conn,
                    job_id=start.job_id,
                    scheduled_at=start.scheduled_at,
                    started_at=start.started_at,
                )
            ):
                start = start.model_copy(update={"trigger": "backfill"})
            # The run's trace: a local activity has no span, but runs in the context its
            # headers carried (api/core/temporal_tracing.py).
            trace_id = tracing.current_trace_id()
            await index_runs.upsert_started_run(
                conn, start=start.model_copy(update={"trace_id": trace_id}) if trace_id else start
            )
        if start.trigger == "schedule" and start.scheduled_at and start.started_at:
            lag = (start.started_at - start.scheduled_at).total_seconds()
            metrics.SCHEDULE_LAG.observe(max(lag, 0.0))
        return RunStarted(job=JobSnapshot.of(dict(job._mapping)), trigger=start.trigger)

    @activity.defn(name=CHECK_RUN_BUDGET)
    async def check_budget(self, check: BudgetCheck) -> BudgetVerdict:
        """Whether the run may start under its job's budget; past it, pause the job.

        The job's row is locked while its windows are summed, so runs of one job starting
        together are counted one after the other. The job pauses (row, then its Temporal
        schedule) until the window that was used up ends, unless the user paused it: the tick
        resumes it then. Idempotent: a retry pauses again, which changes nothing.
        """
        zone = load_timezone(check.timezone)
        window = windows(check.at, zone)
        async with self._engine.begin() as conn:
            await index_jobs.lock_job(conn, job_id=check.job_id)
            runs_today, tokens_today, cost = await index_runs.budget_spent(
                conn,
                job_id=check.job_id,
                run_id=check.run_id,
                at=check.at,
                day=(window.day_start, window.day_end),
                month=(window.month_start, window.month_end),
            )
            over = exceeded(check.budget, Spent(runs_today, tokens_today, cost), window, zone)
            if over is None:
                held = await _over_creator_limit(conn, check)
                if held is None:
                    return BudgetVerdict()
                log.info("run %s not started: %s", check.run_id, held)
                return BudgetVerdict(allowed=False, reason=held, paused=False)
            paused = await index_jobs.pause_for_budget(
                conn,
                job_id=check.job_id,
                reason=over.reason,
                reopens_at=over.reopens_at,
                at=check.at,
            )
            queued = paused and await self._budget_paused(conn, check.job_id, over.reason, check.at)
        if queued:
            self._kick()
        if paused:
            await self._pause_schedule(check.job_id, over.reason)
        log.info("run %s not started: %s", check.run_id, over.reason)
        return BudgetVerdict(allowed=False, reason=over.reason, paused=paused)

    @activity.defn(name=RECORD_RUN_FINISH)
    async def record_finish(self, finish: RunFinish) -> RunFinished:
        """Record the run's end, update its job, continue into chains; a retry changes nothing.

        Ends that arrive while another transaction is open are written together in the next
        one (group commit). Chain runs start after the commit, on a retry too, under ids that
        cannot start twice.
        """
        try:
            written = await self._finishes.write(finish)
        except (sa_exc.DataError, sa_exc.StatementError, ValueError, TypeError) as exc:
            if isinstance(exc, sa_exc.DBAPIError) and not isinstance(exc, sa_exc.DataError):
                raise  # the database is down or busy: a retry can succeed
            # The end itself cannot be stored, now or on any retry: the run ends recorded,
            # without the answer, instead of holding its workflow (and overlap) forever.
            log.error("run %s: its end could not be recorded as it is: %s", finish.run_id, exc)
            written = await self._finishes.write(_without_answer(finish, exc))
        await continue_into_chains(
            self._temporal, written.roots, finish, task_queue=activity.info().task_queue
        )
        return written.finished

    async def _budget_paused(self, conn: Any, job_id: str, reason: str, at: Any) -> bool:
        """Record the pause in the audit log and open the job's ``paused`` incident, in the
        pausing transaction."""
        job = await index_jobs.job_row(conn, job_id=job_id)
        if job is None:
            return False
        await index_audit.insert_event(
            conn,
            owner=job.owner,
            action="job.pause",
            actor=index_audit.SYSTEM_BUDGET,
            job_id=job_id,
            changes={"reason": reason},
        )
        alerts = await index_incidents.alerts_of(conn, job)
        return await incident_rules.job_paused(conn, job=job, reason=reason, at=at, alerts=alerts)

    def _kick(self) -> None:
        if self._notifier is not None:
            self._notifier.kick()

    async def _pause_schedule(self, job_id: str, reason: str) -> None:
        await missing_ok(self._temporal.get_schedule_handle(job_id).pause(note=reason))

    async def _record_finishes(self, finishes: list[RunFinish]) -> list[_Written]:
        """One transaction: each run's end, then each job's counters after all of its runs.

        One query reads the runs, their jobs and whether each job roots a chain. A run already
        recorded (by an earlier attempt, or earlier in the same batch) changes nothing.
        """
        async with self._engine.begin() as conn:
            found = {
                row.run_id: row
                for row in await index_runs.runs_with_jobs(
                    conn, run_ids=(finish.run_id for finish in finishes)
                )
            }
            # run id -> its end and its start
            ended: dict[str, tuple[RunFinish, Any]] = {}
            counted: list[tuple[RunFinish, Any]] = []  # (end, its row): counted once committed
            # Each counted end with its job as it became: incidents open or resolve from these.
            watched: list[tuple[RunFinish, str, dict[str, Any], str | None]] = []
            counters: dict[str, dict[str, Any]] = {}  # job id -> its columns as they become
            changed: dict[str, dict[str, Any]] = {}  # job id -> what to write
            written = []
            for finish in finishes:
                row = found.get(finish.run_id)
                if row is None:
                    written.append(_Written(RunFinished(), []))
                    continue
                finished = RunFinished()
                if row.run_status == "running" and finish.run_id not in ended:
                    ended[finish.run_id] = (finish, row.run_started_at)
                    counted.append((finish, row))
                    finished = RunFinished(recorded=True)
                    if row.id is not None and row.deleted_at is None:
                        job = counters.setdefault(row.id, dict(row._mapping))
                        changes = _counted(job, finish.status, row.run_started_at, row.run_trigger)
                        job.update(changes)
                        changed.setdefault(row.id, {}).update(changes)
                        paused_now = changes.get("status") == "paused"
                        watched.append(
                            (
                                finish,
                                row.run_trigger,
                                dict(job),
                                job["paused_reason"] if paused_now else None,
                            )
                        )
                        finished = RunFinished(
                            recorded=True,
                            job_status=job["status"],
                            auto_paused=changes.get("status") == "paused",
                        )
                roots = []
                if row.chain_root and row.run_trigger != "chain":
                    roots = await index_chains.root_chains(conn, job_id=finish.job_id)
                written.append(_Written(finished, roots))
            await index_runs.end_runs(conn, ends=list(ended.values()))
            for job_id, changes in changed.items():
                await index_jobs.update_job(conn, job_id=job_id, changes=changes)
                if changes.get("status") == "paused":
                    await index_job_events.insert_event(
                        conn,
                        job_id=job_id,
                        kind="paused",
                        by="auto",
                        reason=changes["paused_reason"],
                    )
                    await index_audit.insert_event(
                        conn,
                        owner=counters[job_id]["owner"],
                        action="job.pause",
                        actor=index_audit.SYSTEM_RECORDER,
                        job_id=job_id,
                        changes={"reason": changes["paused_reason"]},
                    )
                    await self._pause_schedule(job_id, changes["paused_reason"])
            queued = False
            opened = await index_incidents.open_kinds(
                conn, job_ids=(job["id"] for _, _, job, _ in watched)
            )
            for finish, trigger, job, paused_reason in watched:
                queued |= await incident_rules.after_run_end(
                    conn,
                    job=SimpleNamespace(**job),
                    open_kinds=opened.setdefault(job["id"], set()),
                    run_id=finish.run_id,
                    status=finish.status,
                    trigger=trigger,
                    failures=job["consecutive_failures"],
                    error=finish.error,
                    paused_reason=paused_reason,
                    at=finish.completed_at,
                )
        if queued:
            self._kick()
        for finish, row in counted:
            _count_run(finish, row)
        return written


def _count_run(finish: RunFinish, row: Any) -> None:
    """The metrics of one run's end (docs/operations.md, "Metrics")."""
    started = row.run_started_at
    if started is not None and started.tzinfo is None:  # SQLite gives naive UTC
        started = started.replace(tzinfo=finish.completed_at.tzinfo)
    metrics.run_ended(
        job_id=finish.job_id,
        status=finish.status,
        trigger=row.run_trigger,
        agent=finish.agent_id or row.agent_id or "none",
        seconds=(finish.completed_at - started).total_seconds() if started else None,
        usage=finish.usage.model_dump() if finish.usage else None,
    )


def _without_answer(finish: RunFinish, error: Exception) -> RunFinish:
    """``finish`` without what the agent and delivery answered, and saying why."""
    cause = getattr(error, "orig", None) or error  # what SQLAlchemy wrapped, if it did
    why = f"the index could not store this run's answer ({type(cause).__name__}); it was dropped"
    return finish.model_copy(
        update={
            "output": None,
            "data": None,
            "condition_result": None,
            "delivery": None,
            "attempt_errors": [],
            "error": f"{finish.error}; {why}" if finish.error else why,
            "answer_notes": [why],
        }
    )


@dataclass(frozen=True)
class _Written:
    """What recording one run's end gave: the job's change and the chains it roots."""

    finished: RunFinished
    roots: list[Any]


class _GroupCommit:
    """Writes run ends in batches: whatever arrives while a batch is written joins the next.

    An idle recorder writes each end at once; under load a batch costs one transaction for
    many runs. A batch that fails is written again one run at a time, so one bad end cannot
    fail the others.
    """

    def __init__(self, write: Callable[[list[RunFinish]], Awaitable[list[_Written]]]) -> None:
        self._write = write
        self._queue: list[tuple[RunFinish, asyncio.Future[_Written]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, finish: RunFinish) -> _Written:
        """Record ``finish`` in the next batch and wait for its commit."""
        future: asyncio.Future[_Written] = asyncio.get_running_loop().create_future()
        self._queue.append((finish, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain(), name="record-run-finishes")
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[RunFinish, asyncio.Future[_Written]]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._commit(batch)
        except BaseException as exc:  # cancelled with the worker: nobody may wait forever
            for _, future in batch + self._queue:
                _fail(future, exc)
            self._queue = []
            raise
        finally:
            self._writer = None

    async def _commit(self, batch: list[tuple[RunFinish, asyncio.Future[_Written]]]) -> None:
        try:
            results = await self._write([finish for finish, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to the activity that waits on it
            if len(batch) == 1:
                _fail(batch[0][1], exc)
                return
            for finish, future in batch:
                try:
                    (result,) = await self._write([finish])
                except Exception as single:  # noqa: BLE001 - as above, per run
                    _fail(future, single)
                else:
                    _settle(future, result)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _settle(future: asyncio.Future[_Written], result: _Written) -> None:
    if not future.done():  # done: its activity was cancelled meanwhile
        future.set_result(result)


def _fail(future: asyncio.Future[_Written], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


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


async def _over_creator_limit(conn: Any, check: BudgetCheck) -> str | None:
    """Why the run may not start under the ``max_runs_per_day`` of the key that created its
    job (across all of that key's jobs, rolling 24 hours), or None. The run is skipped; the
    job stays active, as other jobs of the key may be what used the day up."""
    found = await index_keys.runs_per_day_of_creator(
        conn, job_id=check.job_id, run_id=check.run_id, since=check.at - timedelta(days=1)
    )
    if found is None:
        return None
    key_id, most, started = found
    if started < most:
        return None
    return (
        f"key limit: the jobs of key {key_id} started {started} runs in the last 24 hours "
        f"(its max_runs_per_day is {most})"
    )
