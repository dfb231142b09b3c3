"""Jobs: the index row and its Temporal schedule, kept in step.

Order of writes, so that a crash at any point is repairable by the tick:
- create: index row first, then the schedule; a failed schedule removes the row again.
- update/pause/resume: change the row in an open transaction, update the schedule, commit;
  a failed commit puts the old schedule back.
- delete: mark the row deleted, delete the schedule, then purge the row; a failed schedule
  delete unmarks it.

A job's public view is built in ``api.services.job_view``, a backfill planned and started in
``api.services.backfill``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Schedule,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleUpdate,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.core.errors import Conflict, Invalid, NotFound, Unavailable
from api.core.index import audit as audit_store
from api.core.index import chains as chains_store
from api.core.index import incidents as incidents_store
from api.core.index import job_events
from api.core.index import jobs as store
from api.core.index import runs as runs_store
from api.core.index.models import Backfill, Job
from api.core.schedules import (
    build_schedule,
    job_search_attributes,
    parse_schedule,
    run_memo,
    schedule_memo,
)
from api.core.settings import Settings
from api.core.temporal import TemporalConnection, is_not_found, missing_ok
from api.schemas.jobs import (
    BackfillAccepted,
    BackfillRequest,
    JobCreate,
    JobPublic,
    JobsPublic,
    JobUpdate,
)
from api.services import audit
from api.services import backfill as backfills
from api.services.access import Guard
from api.services.delivery import check_delivery
from api.services.job_view import next_fire, public_job
from api.services.schedule_input import schedule_error
from domain.agents import CommandAgent, EchoAgent, HttpAgent, OpenAIAgent
from domain.budgets import Budget
from domain.contract.names import RUN_WORKFLOW
from domain.contract.runs import JobRunInput, JobRunResult, JobSnapshot, Trigger
from domain.ids import new_id
from domain.inputs import check_instant
from domain.schedules import (
    MAX_EXCLUDED,
    AtSchedule,
    ScheduleExclusions,
    check_at_in_future,
    check_jitter,
    is_fire_time,
    next_fire_time,
)
from domain.timezones import load_timezone

log = logging.getLogger(__name__)

Agents = dict[str, EchoAgent | HttpAgent | OpenAIAgent | CommandAgent]

# Fields whose change means the Temporal schedule must be rebuilt.
_SCHEDULE_FIELDS = {
    "schedule",
    "overlap",
    "name",
    "agent_id",
    "goal",
    "enabled",
    "catchup_window_seconds",
    "jitter_seconds",
}


@dataclass
class JobService:
    """Job operations for one owner."""

    session: AsyncSession
    temporal: TemporalConnection
    settings: Settings
    agents: Agents
    owner: str
    now: datetime
    """The request's instant (``NowDep``): every "now" of one call is this one."""
    guard: Guard = dataclass_field(default_factory=lambda: Guard(None))
    """The caller's key limits (docs/api.md, "Limits of a key")."""
    actor: audit_store.Actor | None = None
    """Who the audit log records this call's changes as (default: the guard's key)."""
    idempotency_key: str | None = None
    """The request's ``Idempotency-Key``, recorded with its changes."""
    _open: dict[str, list[Any]] = dataclass_field(default_factory=dict)
    """The open incidents of the jobs this call read (``public`` shows them)."""

    async def create(self, body: JobCreate) -> Job:
        """Create a job and its schedule."""
        return (await self.create_once(body, resource_id=None))[0]

    async def create_once(self, body: JobCreate, *, resource_id: str | None) -> tuple[Job, bool]:
        """Create a job and its schedule as ``job_<resource_id>`` (a random id when None).

        A keyed request's retry (docs/api.md#idempotent-requests) finds the job its first
        attempt made and completes it (its schedule) instead of making a second one.

        Returns:
            The job, and whether an earlier attempt had made it.
        """
        job_id = new_id("job") if resource_id is None else f"job_{resource_id}"
        if resource_id is not None and (earlier := await self._made_earlier(job_id)):
            return earlier, True
        self._check_agent(body.agent_id)
        self._check_fallbacks(body.agent_id, body.fallback_agent_ids)
        self._check_future(body.schedule)
        _check_jitter(body.schedule, body.jitter_seconds, now=self.now)
        await check_delivery(self.settings, _dump(body.delivery))
        await _check_alerts(self.settings, body)
        await self.guard.check_create(self.session)
        now = self.now
        job = Job(
            id=job_id,
            owner=self.owner,
            name=body.name,
            goal=body.goal,
            agent_id=body.agent_id,
            fallback_agent_ids=body.fallback_agent_ids or None,
            schedule=body.schedule.model_dump(mode="json"),
            timezone=body.schedule.timezone,
            status="active" if body.enabled else "paused",
            paused_reason=None if body.enabled else "created paused",
            delivery=_dump(body.delivery),
            condition=_dump(body.condition),
            retry=_dump(body.retry),
            budget=self.guard.budget(_budget(body.budget)),
            timeout_seconds=body.timeout_seconds,
            overlap=body.overlap,
            max_consecutive_failures=body.max_consecutive_failures,
            catchup_window_seconds=body.catchup_window_seconds,
            jitter_seconds=body.jitter_seconds,
            created_at=now,
            updated_at=now,
            alerts=_dump(body.alerts),
            alerts_from=_alerts_from(body),
            grace_seconds=body.grace_seconds,
            deadline=_dump(body.deadline),
            max_run_seconds=body.max_run_seconds,
            created_by=self.guard.created_by,
        )
        job.next_run_at = next_fire(job.status, job.schedule, self.now)
        client = await self.temporal.client()
        self.session.add(job)
        await self.record("job.create", job.id, changes={"name": job.name})
        if not body.enabled:
            job_events.add_event(
                self.session, job_id=job.id, kind="paused", by="api", reason=job.paused_reason
            )
        try:
            await self.session.commit()
        except IntegrityError:
            # A simultaneous attempt of the same keyed request inserted it first.
            await self.session.rollback()
            if resource_id is None:
                raise
            if not (earlier := await self._made_earlier(job_id)):
                raise Conflict(
                    f"Job {job_id}, which this Idempotency-Key created, was deleted; use a new key"
                ) from None
            return earlier, True
        try:
            await client.create_schedule(
                job.id,
                self._schedule_of(job),
                memo=schedule_memo(job),
                search_attributes=job_search_attributes(job, "schedule"),
            )
        except BaseException:
            await self._forget_half_created(job)
            raise
        return job, False

    async def record(
        self,
        action: str,
        job_id: str | None,
        *,
        target_id: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> None:
        """Record ``action`` in the session's open transaction, committed with the change
        (docs/api.md, "Audit log")."""
        await audit_store.add_event(
            self.session,
            owner=self.owner,
            action=action,
            actor=self.actor or audit.actor_of(self.guard.caller),
            job_id=job_id,
            target_id=target_id,
            changes=changes,
            idempotency_key=self.idempotency_key,
        )

    async def _made_earlier(self, job_id: str) -> Job | None:
        """The job an earlier attempt of this request made, with its schedule made sure of."""
        job = await store.get_job(self.session, owner=self.owner, job_id=job_id)
        if job is None:
            return None
        try:
            await (await self.temporal.client()).create_schedule(
                job.id,
                self._schedule_of(job),
                memo=schedule_memo(job),
                search_attributes=job_search_attributes(job, "schedule"),
            )
        except ScheduleAlreadyRunningError:
            pass  # the first attempt (or the tick) made it
        else:
            log.info("job %s: made the schedule its first attempt did not", job.id)
        return job

    async def get(self, job_id: str) -> Job:
        """The owner's job, or 404; its open incidents kept for its view (:meth:`public`)."""
        job = await self.owned(job_id)
        await self._load_open([job.id])
        return job

    async def owned(self, job_id: str) -> Job:
        """The owner's job, or 404, for a change that answers without the job's view."""
        job = await store.get_job(self.session, owner=self.owner, job_id=job_id)
        if job is None:
            raise NotFound(f"Job {job_id} not found")
        return job

    async def _load_open(self, job_ids: list[str]) -> None:
        self._open.update(await incidents_store.open_by_job(self.session, job_ids=job_ids))

    async def list(self, *, status: str | None, limit: int, offset: int) -> JobsPublic:
        """A page of the owner's jobs."""
        jobs, count = await store.list_jobs(
            self.session, owner=self.owner, status=status, limit=limit, offset=offset
        )
        await self._load_open([job.id for job in jobs])
        return JobsPublic(jobs=[self.public(job) for job in jobs], count=count)

    async def update(self, job_id: str, body: JobUpdate) -> Job:
        """Change the fields sent; a new schedule applies from the next fire."""
        job = await self.get(job_id)
        before = job.model_dump(mode="json")
        changes = body.model_dump(exclude_unset=True)
        sent = body.model_fields_set
        if "agent_id" in sent:
            self._check_agent(body.agent_id)
        if {"agent_id", "fallback_agent_ids"} & sent:
            fallbacks = (
                body.fallback_agent_ids
                if "fallback_agent_ids" in sent
                else job.fallback_agent_ids or []
            )
            self._check_fallbacks(
                body.agent_id if "agent_id" in sent else job.agent_id, fallbacks or []
            )
            changes["fallback_agent_ids"] = fallbacks or None
        schedule = None
        if "schedule" in sent:
            try:
                schedule = body.schedule_in_zone(job.timezone)
            except ValidationError as exc:
                raise Invalid.field("schedule", schedule_error(exc)) from None
            self._check_future(schedule)
        if body.delivery is not None:
            await check_delivery(self.settings, _dump(body.delivery))
        await _check_alerts(self.settings, body)
        if {"alerts", "alerts_from"} <= sent:
            raise Invalid.field("alerts_from", "send alerts or alerts_from, not both")
        if "enabled" in changes:
            if job.status in ("completed", "failed"):
                raise Conflict(f"Job {job.id} is {job.status}; it cannot be paused or resumed")
            enabled = changes.pop("enabled")
            if enabled and job.status == "paused":
                self._resume(job)
            elif not enabled and (job.status == "active" or job.budget_reopens_at is not None):
                self._pause(job)
        for field, value in changes.items():
            if field == "schedule":
                assert schedule is not None
                job.schedule = schedule.model_dump(mode="json")
                job.timezone = schedule.timezone
                if job.status in ("completed", "failed") and isinstance(schedule, AtSchedule):
                    job.status = "active"  # a new time makes a finished one-off live again
            elif field in ("delivery", "condition", "retry"):
                setattr(job, field, _dump(getattr(body, field)))
            elif field == "budget":
                job.budget = self.guard.budget(_budget(body.budget))
            elif field == "alerts":
                job.alerts, job.alerts_from = _dump(body.alerts), _alerts_from(body)
            elif field == "alerts_from":  # back to the owner's default
                job.alerts, job.alerts_from = None, "owner"
            elif field == "deadline":
                job.deadline = _dump(body.deadline)
            else:
                setattr(job, field, value)
        if {"schedule", "jitter_seconds"} & sent:
            _check_jitter(parse_schedule(job.schedule), job.jitter_seconds, now=self.now)
        if diff := audit.diff(before, job.model_dump(mode="json")):
            await self.record("job.update", job.id, changes=diff)
        await self._save(job, rebuild=bool(_SCHEDULE_FIELDS & body.model_fields_set))
        return job

    async def pause(self, job_id: str, reason: str | None = None) -> Job:
        """Pause: the schedule stops firing; triggers still work. ``reason`` is said in its
        ``paused_reason`` (``paused by user: <reason>``); a job already paused keeps its own.

        A job its budget paused becomes paused by the user: the tick no longer resumes it.
        """
        job = await self.get(job_id)
        self._check_not_finished(job)
        if job.status == "active" or job.budget_reopens_at is not None:
            self._pause(job, reason)
            await self.record("job.pause", job.id, changes={"reason": job.paused_reason})
            await self._save(job, rebuild=True)
        return job

    async def resume(self, job_id: str) -> Job:
        """Resume a paused job."""
        job = await self.get(job_id)
        self._check_not_finished(job)
        if job.status == "paused":
            self._resume(job)
            await self.record("job.resume", job.id)
            # Its recovery notice is sent by the next tick (the API sends nothing itself).
            await incidents_store.resolve_incidents(
                self.session, job_id=job.id, kinds=("paused",), reason="resumed", at=self.now
            )
            await self._save(job, rebuild=True)
            self._open[job.id] = [row for row in self._open.get(job.id, []) if row.kind != "paused"]
        return job

    async def delete(self, job_id: str, *, cancel_running: bool) -> None:
        """Delete the job, its schedule and (optionally) cancel its running runs."""
        job = await self.owned(job_id)
        if used_by := await chains_store.chains_using_job(self.session, job_id=job.id):
            raise Conflict(f"Job {job.id} is used by chain {', '.join(used_by)}; delete it first")
        job.deleted_at = self.now
        await self.record("job.delete", job.id, changes={"cancel_running": cancel_running})
        await self.session.commit()
        try:
            await missing_ok((await self._handle(job)).delete())
        except (RPCError, Unavailable):
            job.deleted_at = None
            await audit_store.forget_event(self.session, action="job.delete", job_id=job.id)
            await self.session.commit()
            raise
        if cancel_running:
            await self._cancel_running(job)
        try:
            await store.purge_job(self.session, job_id=job.id)
        except SQLAlchemyError:
            # Deleted already: the row is marked and the schedule gone. The tick purges it.
            log.warning("job %s deleted; purging its rows failed, the tick will", job.id)
            await self.session.rollback()

    async def trigger(self, job_id: str) -> str:
        """Start a run now, whatever the schedule or status; returns the run id."""
        return (await self.trigger_once(job_id, resource_id=None))[0]

    async def trigger_once(
        self,
        job_id: str,
        *,
        resource_id: str | None,
        trigger: Trigger = "manual",
        input: Any = None,
    ) -> tuple[str, bool]:
        """Start a run now as ``run_<resource_id>`` (a random id when None), started by
        ``trigger`` (``manual``, or ``hook`` with the delivery's ``input``).

        The run is in the index before its id is returned, so it can be read (and cancelled)
        at once. Without a resource id the row comes first and is removed if the start fails,
        so an error leaves nothing behind. With one (a keyed request), the workflow starts
        first, under an id Temporal never starts twice, and records its own row: a retry after
        any crash finds the first attempt's run.

        Returns:
            The run id, and whether an earlier attempt had started it.
        """
        job = await self.owned(job_id)
        await self.guard.check_start(self.session, now=self.now, created_by=job.created_by)
        client = await self.temporal.client()
        run_id = new_id("run", 16) if resource_id is None else f"run_{resource_id}"

        async def start() -> None:
            await client.start_workflow(
                RUN_WORKFLOW,
                JobRunInput(
                    job_id=job.id,
                    owner=job.owner,
                    trigger=trigger,
                    input=input,
                    # Without the snapshot the run records its own start, as a scheduled one
                    # does: a keyed trigger's row is then there even if this process dies
                    # right after the start.
                    job=JobSnapshot.of(job.model_dump()) if resource_id is None else None,
                ),
                id=run_id,
                task_queue=self.settings.task_queue,
                result_type=JobRunResult,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=job_search_attributes(job, trigger),
                memo=run_memo(job),
                static_summary=f"{job.name} ({trigger})"[:200],
            )

        changes = {"trigger": trigger}
        if resource_id is None:
            await self.record("job.trigger", job.id, target_id=run_id, changes=changes)
            await runs_store.insert_manual_run(
                self.session,
                run_id=run_id,
                job_id=job.id,
                owner=job.owner,
                trigger=trigger,
                input=input,
            )
            try:
                await start()
            except BaseException:
                await audit_store.forget_event(self.session, action="job.trigger", target_id=run_id)
                await runs_store.forget_run(self.session, run_id=run_id)
                raise
            return run_id, False
        found = False
        try:
            await start()
        except WorkflowAlreadyStartedError:
            found = True
        if not await audit_store.has_event(self.session, action="job.trigger", target_id=run_id):
            await self.record("job.trigger", job.id, target_id=run_id, changes=changes)
        await runs_store.insert_manual_run(
            self.session,
            run_id=run_id,
            job_id=job.id,
            owner=job.owner,
            trigger=trigger,
            input=input,
        )
        return run_id, found

    async def backfill(
        self, job_id: str, body: BackfillRequest, *, now: datetime
    ) -> BackfillAccepted:
        """Run the schedule's fires in ``[start, end)`` that have not run, through Temporal's
        schedule backfill (``api.services.backfill``)."""
        job = await self.owned(job_id)

        async def allow(runs: int) -> None:
            await self.guard.check_start(self.session, now=self.now, runs=runs)

        async def record(made: Backfill) -> None:
            span = {"start": made.start.isoformat(), "end": made.end.isoformat()}
            await self.record(
                "job.backfill", job.id, target_id=made.id, changes={**span, "fires": made.fires}
            )

        return await backfills.backfill(
            self.session, self.temporal, job, body, now=now, allow=allow, audit=record
        )

    async def skip(self, job_id: str, at: datetime) -> Job:
        """Skip one future fire of the job's schedule (``schedule.exclude.skipped``)."""
        job = await self.get(job_id)
        schedule = parse_schedule(job.schedule)
        instant = skipped_instant(schedule, at, now=self.now)
        skipped = [s for s in _skipped(schedule) if s > self.now]  # past ones are done with
        if instant not in skipped:
            skipped.append(instant)
        await self.record("job.skip", job.id, changes={"at": instant.isoformat()})
        await self._set_skipped(job, schedule, skipped)
        return job

    async def unskip(self, job_id: str, at: datetime) -> Job:
        """Undo a skip: the fire at ``at`` runs again."""
        job = await self.get(job_id)
        schedule = parse_schedule(job.schedule)
        zone = load_timezone(schedule.timezone)
        instant = (at if at.tzinfo is not None else at.replace(tzinfo=zone)).astimezone(UTC)
        skipped = _skipped(schedule)
        if instant not in skipped:
            raise NotFound(
                f"{instant.astimezone(zone).isoformat()} is not a skipped fire of {job.id}"
            )
        await self.record("job.unskip", job.id, changes={"at": instant.isoformat()})
        await self._set_skipped(job, schedule, [s for s in skipped if s != instant])
        return job

    async def _set_skipped(self, job: Job, schedule: Any, skipped: Sequence[datetime]) -> None:
        exclude = schedule.exclude or ScheduleExclusions()
        schedule.exclude = exclude.model_copy(update={"skipped": sorted(skipped)})
        if schedule.exclude.is_empty():
            schedule.exclude = None
        job.schedule = schedule.model_dump(mode="json")
        await self._save(job, rebuild=True)

    def public(self, job: Job | sa.Row[Any]) -> JobPublic:
        """The API view of a job (a model, or a row of the ``jobs`` table), as of this call
        (``api.services.job_view``)."""
        return public_job(
            job, settings=self.settings, now=self.now, open_incidents=self._open.get(job.id)
        )

    def _check_agent(self, agent_id: str) -> None:
        if agent_id not in self.agents:
            known = ", ".join(sorted(self.agents))
            raise Invalid.field("agent_id", f"unknown agent '{agent_id}' (configured: {known})")
        self.guard.check_agents("agent_id", [agent_id])

    def _check_fallbacks(self, agent_id: str, fallbacks: Sequence[str]) -> None:
        """Refuse (422 on ``fallback_agent_ids``) an unknown, repeated or main agent, or one
        the key's limits do not allow."""
        self.guard.check_agents("fallback_agent_ids", list(fallbacks))
        for index, fallback in enumerate(fallbacks):
            where = f"fallback_agent_ids.{index}"
            if fallback not in self.agents:
                known = ", ".join(sorted(self.agents))
                raise Invalid.field(where, f"unknown agent '{fallback}' (configured: {known})")
            if fallback == agent_id:
                raise Invalid.field(where, f"'{fallback}' is the job's agent_id, not a fallback")
            if fallback in fallbacks[:index]:
                raise Invalid.field(where, f"'{fallback}' is listed twice")

    def _check_future(self, schedule: Any) -> None:
        self.guard.check_schedule(schedule, now=self.now)
        if isinstance(schedule, AtSchedule):
            try:
                check_at_in_future(schedule, self.now)
            except ValueError as exc:
                raise Invalid.field("schedule.datetime", str(exc)) from exc

    @staticmethod
    def _check_not_finished(job: Job) -> None:
        if job.status in ("completed", "failed"):
            raise Conflict(f"Job {job.id} is {job.status}; it cannot be paused or resumed")

    def _resume(self, job: Job) -> None:
        schedule = parse_schedule(job.schedule)
        if isinstance(schedule, AtSchedule) and schedule.datetime <= self.now + timedelta(
            seconds=1
        ):
            raise Conflict(
                f"Job {job.id} was due at {schedule.datetime.isoformat()}, which has passed; "
                "give it a new schedule to run it again"
            )
        job.status, job.paused_reason, job.consecutive_failures = "active", None, 0
        job.budget_reopens_at = None
        job_events.add_event(self.session, job_id=job.id, kind="resumed", by="api", reason=None)

    def _pause(self, job: Job, reason: str | None = None) -> None:
        _paused_by_user(job, reason)
        job_events.add_event(
            self.session, job_id=job.id, kind="paused", by="api", reason=job.paused_reason
        )

    def _schedule_of(self, job: Job) -> Schedule:
        return build_schedule(
            job,
            task_queue=self.settings.task_queue,
            default_catchup_window_seconds=self.settings.catchup_window_seconds,
        )

    async def _handle(self, job: Job) -> ScheduleHandle:
        return (await self.temporal.client()).get_schedule_handle(job.id)

    async def _save(self, job: Job, *, rebuild: bool) -> None:
        """Flush the row, update the schedule, commit; undo the schedule if the commit fails."""
        job.updated_at = self.now
        job.next_run_at = next_fire(job.status, job.schedule, self.now)
        await self.session.flush()
        if not rebuild:
            await self.session.commit()
            return
        handle = await self._handle(job)
        try:
            before = await _describe_or_none(handle)
            await self._apply(handle, job)
        except BaseException:
            await self.session.rollback()
            raise
        try:
            await self.session.commit()
        except BaseException:
            if before is not None:
                await handle.update(lambda _: ScheduleUpdate(schedule=before))
            raise

    async def _apply(self, handle: ScheduleHandle, job: Job) -> None:
        """Make the Temporal schedule match the job (recreating it if it vanished)."""
        new = self._schedule_of(job)
        attributes = job_search_attributes(job, "schedule")
        try:
            await handle.update(
                lambda _: ScheduleUpdate(schedule=new, search_attributes=attributes)
            )
        except RPCError as exc:
            if not is_not_found(exc):
                raise
            log.warning("schedule of %s was missing; recreating it", job.id)
            await (await self.temporal.client()).create_schedule(
                job.id, new, memo=schedule_memo(job), search_attributes=attributes
            )

    async def _forget_half_created(self, job: Job) -> None:
        """Undo a create whose schedule failed: drop the row and any schedule that did land."""
        try:
            await (await self._handle(job)).delete()
        except Exception:  # noqa: BLE001 - most likely it does not exist; the tick is the backstop
            pass
        await self.session.rollback()
        await audit_store.forget_event(self.session, action="job.create", job_id=job.id)
        await store.purge_job(self.session, job_id=job.id)

    async def _cancel_running(self, job: Job) -> None:
        for run_id in await runs_store.running_run_ids(self.session, job_id=job.id):
            client = await self.temporal.client()
            await missing_ok(client.get_workflow_handle(run_id).cancel())


async def _describe_or_none(handle: ScheduleHandle) -> Any:
    described = await missing_ok(handle.describe())
    return None if described is None else described.schedule


def _check_jitter(schedule: Any, jitter_seconds: int, *, now: datetime) -> None:
    try:
        check_jitter(schedule, jitter_seconds, now=now)
    except ValueError as exc:
        raise Invalid.field("jitter_seconds", str(exc)) from None


def _skipped(schedule: Any) -> list[datetime]:
    exclude = getattr(schedule, "exclude", None)
    return list(exclude.skipped) if exclude is not None else []


def skipped_instant(schedule: Any, at: datetime, *, now: datetime) -> datetime:
    """``at`` (naive: in the schedule's zone) as the UTC instant of a future fire to skip.

    Raises:
        Invalid: On ``at``: a one-off, too many skips, not in the future, or not a fire.
    """
    if isinstance(schedule, AtSchedule):
        raise Invalid.field("at", "a one-off job has one fire: pause or delete it instead")
    zone = load_timezone(schedule.timezone)
    instant = at if at.tzinfo is not None else at.replace(tzinfo=zone)
    try:
        check_instant(instant)
    except ValueError as exc:
        raise Invalid.field("at", str(exc)) from None
    instant = instant.astimezone(UTC)
    if instant <= now:
        raise Invalid.field("at", f"{instant.astimezone(zone).isoformat()} is not in the future")
    if len(_skipped(schedule)) >= MAX_EXCLUDED:
        raise Invalid.field("at", f"the job already skips {MAX_EXCLUDED} fires")
    if not is_fire_time(schedule.model_copy(update={"exclude": None}), instant):
        following = next_fire_time(schedule, after=instant)
        nearest = following.isoformat() if following is not None else "none"
        raise Invalid.field(
            "at",
            f"{instant.astimezone(zone).isoformat()} is not a fire time of the job "
            f"(the next fire after it is {nearest})",
        )
    return instant


def _dump(model: Any) -> dict[str, Any] | None:
    return None if model is None else dict(model.model_dump(mode="json"))


async def _check_alerts(settings: Settings, body: JobCreate | JobUpdate) -> None:
    if body.alerts is not None:
        await check_alert_channel(settings, body.alerts.channel)


async def check_alert_channel(settings: Settings, channel: str) -> None:
    """422 on ``alerts.channel`` for a channel this server cannot or may not use."""
    try:
        await check_delivery(settings, {"channel": channel})
    except Invalid as exc:
        message = exc.details[0].message if exc.details else str(exc)
        raise Invalid.field("alerts.channel", message) from None


def _alerts_from(body: JobCreate | JobUpdate) -> str:
    """Where the job's alert settings come from: its own, the owner's (not sent), or off."""
    if body.alerts is not None:
        return "job"
    return "off" if "alerts" in body.model_fields_set else "owner"


def _budget(budget: Budget | None) -> dict[str, Any] | None:
    """A budget as stored: only the limits set; one with none is no budget."""
    if budget is None or budget.is_empty():
        return None
    return dict(budget.model_dump(mode="json", exclude_none=True))


def _paused_by_user(job: Job, reason: str | None = None) -> None:
    said = f"paused by user: {reason}" if reason else "paused by user"
    job.status, job.paused_reason, job.budget_reopens_at = "paused", said, None
