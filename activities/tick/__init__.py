"""The tick's work: compare the index with Temporal and repair any drift, then record it.

Drift it repairs (each counted under its key in ``repairs``):

- ``schedules_recreated``: a live job whose Temporal schedule is missing (``schedules``);
- ``schedules_resynced``: a schedule paused while its job is active, or the reverse
  (``schedules``);
- ``orphan_schedules_deleted``: a job schedule of this deployment with no live job
  (``schedules``);
- ``deleted_jobs_purged``: a job marked deleted whose delete did not finish (``schedules``);
- ``runs_recorded``: a run that finished in Temporal but not in the index (or is missing there),
  counted only when the tick's write ended it (not when the worker recorded it meanwhile)
  (``runs``);
- ``stuck_runs_ended``: a run still running in Temporal past the longest its job's timeout and
  retries allow (``domain.retry.longest_run_seconds``): its workflow is terminated and the run
  recorded ``timed_out`` with the reason, so its job's next fires are not skipped behind it
  (``runs``);
- ``holiday_calendars_extended``: a schedule whose holiday exclusions end fewer than three
  years ahead is rebuilt with those of the years to come, checked on a day's first tick
  (``calendars``).

Then the incidents only a clock can see (missed fires, deadlines, long runs, resumed jobs,
reminders) open, resolve and remind, and queued incident notifications are sent
(``incidents``; docs/alerts.md).

A stored ``next_run_at`` that is no longer the next fire is refreshed too; that is upkeep (every
fire makes one stale), not drift, so it is counted apart, in ``next_run_at_refreshed``
(``next_runs``). So is resuming a job its budget paused once the window that paused it has ended
(``budget_reopened``, ``budgets``; a job the user paused is never resumed). Last, a batch of each
table's rows older than the retention period is pruned (``retention``; docs/operations.md,
"Retention").

Rows and schedules younger than the grace period are left alone: the API may be between the
two writes of a create or delete.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client

from activities.heartbeat import heartbeating
from activities.incidents import IncidentNotifier
from activities.runs import RunRecorder
from activities.tick import budgets, calendars, incidents, next_runs, retention, runs, schedules
from activities.tick.scope import TickScope, log
from api.core import metrics
from api.core.index import deliveries as index_deliveries
from api.core.index import idempotency as index_idempotency
from api.core.index import jobs as index_jobs
from api.core.index import ticks as index_ticks
from api.core.settings import Settings
from domain.contract.names import RECONCILE
from domain.contract.tick import ReconcileInput, TickResult

TICKS_KEPT = timedelta(days=1)
# A delivery's sent messages are remembered this long (its retries end within half an hour).
DELIVERIES_KEPT = timedelta(days=7)
# Idempotency keys replay their first answer for 24 hours (api/services/idempotency.py).
IDEMPOTENCY_KEYS_KEPT = timedelta(hours=24)


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
        notifier: IncidentNotifier | None = None,
    ) -> None:
        self._engine = engine
        self._client = client
        self._settings = settings
        self._recorder = recorder
        self._clock = clock or (lambda: datetime.now(UTC))
        self._notifier = notifier or IncidentNotifier(engine, settings, clock=self._clock)

    @activity.defn(name=RECONCILE)
    async def reconcile(self, tick: ReconcileInput) -> TickResult:
        """Compare the index with Temporal, repair what drifted and record the tick.

        It heartbeats, so an attempt whose worker or completion was lost (Temporal unreachable
        as it ended) is retried within the workflow's heartbeat timeout: the next ticks are
        skipped while one runs.
        """
        async with heartbeating():
            return await self._reconcile(tick)

    async def _reconcile(self, tick: ReconcileInput) -> TickResult:
        started = self._clock()
        scope = self._scope(started, settled=started - timedelta(seconds=tick.grace_seconds))
        async with self._engine.connect() as conn:
            rows = await index_jobs.all_job_rows(conn)
            last_tick = await index_ticks.last_tick_started_at(conn)
        live = {row.id: row for row in rows if row.deleted_at is None}
        deleted = {row.id: row for row in rows if row.deleted_at is not None}
        listed = await schedules.job_schedules(scope)
        repairs: Counter[str] = Counter(
            schedules_recreated=await schedules.recreate_missing(scope, live, listed),
            schedules_resynced=await schedules.resync_paused(scope, live, listed),
            orphan_schedules_deleted=await schedules.delete_orphans(scope, live, listed),
            deleted_jobs_purged=await schedules.purge_deleted(scope, deleted),
        )
        if calendars.holidays_due(last_tick, started):
            repairs["holiday_calendars_extended"] = await calendars.extend_holidays(scope, live)
        reopened = await budgets.reopen_budget_paused(scope, live)
        refreshed = await next_runs.refresh_next_runs(scope, live)
        runs_checked, run_repairs = await runs.repair_runs(scope, live, last_tick)
        repairs.update(run_repairs)
        await incidents.watch(scope, live, last_tick, self._notifier)
        await retention.prune(scope)
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
        for kind, count in result.repairs.items():
            metrics.TICK_REPAIRS.labels(kind).inc(count)
        if result.repairs:
            log.info("tick repaired %s", result.repairs)
        if refreshed:
            log.debug("tick refreshed %d stored next fires", refreshed)
        if reopened:
            log.info("tick resumed %d jobs whose budget window rolled over", reopened)
        return result

    async def _record_if_closed(
        self, run_id: str, now: datetime, deadline: datetime | None = None
    ) -> str | None:
        """One run settled as a tick at ``now`` would (``runs.record_if_closed``)."""
        return await runs.record_if_closed(self._scope(now, settled=now), run_id, deadline)

    def _scope(self, now: datetime, *, settled: datetime) -> TickScope:
        return TickScope(
            engine=self._engine,
            client=self._client,
            settings=self._settings,
            recorder=self._recorder,
            now=now,
            settled=settled,
        )
