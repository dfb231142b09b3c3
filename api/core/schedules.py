"""The Temporal Schedules: a job's (schedule id = job id) and the tick's (one per task queue).

Shared by the API (create, update) and the worker (the tick repairs drift, ensures its own
schedule at start), so neither imports the other.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
)
from temporalio.common import TypedSearchAttributes
from temporalio.service import RPCError

from api.core.index.models import Job
from api.core.settings import Settings
from domain import search_attributes
from domain.calendars import HOLIDAY_YEARS_AHEAD, holiday_dates
from domain.contract.names import RUN_WORKFLOW, TICK_WORKFLOW
from domain.contract.runs import JobRunInput
from domain.contract.tick import TickInput
from domain.cron import MAX_YEAR, CompiledCron, parse_cron, value_runs
from domain.schedules import AtSchedule, CronSchedule, EverySchedule
from domain.schedules import Schedule as JobSchedule
from domain.timezones import load_timezone

log = logging.getLogger(__name__)

OVERLAP = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
}

_schedule_adapter: TypeAdapter[CronSchedule | EverySchedule | AtSchedule] = TypeAdapter(JobSchedule)


def parse_schedule(data: dict[str, Any]) -> CronSchedule | EverySchedule | AtSchedule:
    """The typed schedule of a stored job."""
    return _schedule_adapter.validate_python(data)


def scheduled_run_prefix(job_id: str) -> str:
    """Workflow id prefix of a job's scheduled runs: Temporal appends ``-<nominal time>``."""
    return "run_" + job_id.removeprefix("job_")


def scheduled_run_id(job_id: str, nominal: datetime) -> str:
    """The workflow id (= run id) Temporal gives the run of a job's fire at ``nominal``."""
    return f"{scheduled_run_prefix(job_id)}-{nominal.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def job_search_attributes(job: Job, trigger: str) -> TypedSearchAttributes:
    """Search attributes that make a job's schedule and runs findable in the Temporal UI."""
    return search_attributes.run_attributes(job.id, job.owner, trigger)


def schedule_spec(
    schedule: CronSchedule | EverySchedule | AtSchedule,
    *,
    jitter_seconds: int,
    now: datetime | None = None,
) -> ScheduleSpec:
    """The Temporal spec of a schedule: cron strings, or calendars for the day forms; its
    exclusions as exclude calendars (holidays of ``holiday_years(now)``); the jitter; its
    ``start_at`` / ``end_at``."""
    spec = _unbounded_spec(schedule, jitter_seconds=jitter_seconds, now=now)
    spec.start_at = schedule.start_at
    spec.end_at = schedule.end_at
    return spec


def _unbounded_spec(
    schedule: CronSchedule | EverySchedule | AtSchedule,
    *,
    jitter_seconds: int,
    now: datetime | None,
) -> ScheduleSpec:
    jitter = timedelta(seconds=jitter_seconds) if jitter_seconds else None
    if isinstance(schedule, CronSchedule):
        compiled = [parse_cron(expression) for expression in schedule.expressions]
        return ScheduleSpec(
            # L, W and # are not Temporal cron: those go as the same days in its own calendars.
            cron_expressions=[c.expression for c in compiled if not c.day_forms],
            calendars=[spec for c in compiled if c.day_forms for spec in cron_calendars(c)],
            skip=exclude_calendars(schedule, now=now or datetime.now(UTC)),
            time_zone_name=schedule.timezone,
            jitter=jitter,
        )
    if isinstance(schedule, EverySchedule):
        skip = exclude_calendars(schedule, now=now or datetime.now(UTC))
        return ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(
                    every=timedelta(seconds=schedule.interval),
                    offset=timedelta(seconds=schedule.offset),
                )
            ],
            skip=skip,
            # Exclusions are local dates: matched in the schedule's zone (intervals ignore it).
            time_zone_name=schedule.timezone if skip else None,
            jitter=jitter,
        )
    at = schedule.datetime.astimezone(UTC)
    return ScheduleSpec(
        calendars=[
            ScheduleCalendarSpec(
                second=[ScheduleRange(at.second)],
                minute=[ScheduleRange(at.minute)],
                hour=[ScheduleRange(at.hour)],
                day_of_month=[ScheduleRange(at.day)],
                month=[ScheduleRange(at.month)],
                year=[ScheduleRange(at.year)],
            )
        ],
        time_zone_name="UTC",
        jitter=jitter,
    )


def _ranges(values: frozenset[int]) -> list[ScheduleRange]:
    return [ScheduleRange(start, end) for start, end in value_runs(values)]


def cron_calendars(compiled: CompiledCron) -> list[ScheduleCalendarSpec]:
    """A cron expression as the Temporal calendars that fire exactly when it does."""
    return [
        ScheduleCalendarSpec(
            second=[ScheduleRange(0)],
            minute=_ranges(compiled.minutes),
            hour=_ranges(compiled.hours),
            day_of_month=_ranges(calendar.days_of_month),
            month=_ranges(calendar.months),
            year=_ranges(calendar.years) if calendar.years is not None else [],
            day_of_week=_ranges(calendar.days_of_week),
            comment=compiled.expression,
        )
        for calendar in compiled.calendars
    ]


HOLIDAYS_COMMENT = "holidays "
_WHOLE_DAY = {
    "second": [ScheduleRange(0, 59)],
    "minute": [ScheduleRange(0, 59)],
    "hour": [ScheduleRange(0, 23)],
}


def holiday_years(now: datetime) -> range:
    """The years whose holidays a schedule built at ``now`` excludes in Temporal."""
    return range(max(now.year - 1, 2000), min(now.year + HOLIDAY_YEARS_AHEAD, MAX_YEAR) + 1)


def exclude_calendars(
    schedule: CronSchedule | EverySchedule, *, now: datetime
) -> list[ScheduleCalendarSpec]:
    """A schedule's exclusions as Temporal exclude calendars (matched in the spec's zone):
    whole local days for dates and holidays (those of ``holiday_years(now)``), the wall time
    of each skipped fire."""
    exclude = schedule.exclude
    if exclude is None or exclude.is_empty():
        return []
    calendars = _day_calendars(set(exclude.dates), "dates")
    if exclude.holidays is not None:
        days = {d for year in holiday_years(now) for d in holiday_dates(exclude.holidays, year)}
        calendars += _day_calendars(days, HOLIDAYS_COMMENT + exclude.holidays)
    zone = load_timezone(schedule.timezone)
    for skipped in exclude.skipped:
        wall = skipped.astimezone(zone)
        calendars.append(
            ScheduleCalendarSpec(
                second=[ScheduleRange(wall.second)],
                minute=[ScheduleRange(wall.minute)],
                hour=[ScheduleRange(wall.hour)],
                day_of_month=[ScheduleRange(wall.day)],
                month=[ScheduleRange(wall.month)],
                year=[ScheduleRange(wall.year)],
                comment="skipped",
            )
        )
    return calendars


def _day_calendars(days: set[date], comment: str) -> list[ScheduleCalendarSpec]:
    """Whole days, one calendar per month that has some."""
    by_month: dict[tuple[int, int], set[int]] = {}
    for day in days:
        by_month.setdefault((day.year, day.month), set()).add(day.day)
    return [
        ScheduleCalendarSpec(
            **_WHOLE_DAY,
            day_of_month=_ranges(frozenset(month_days)),
            month=[ScheduleRange(month)],
            year=[ScheduleRange(year)],
            comment=comment,
        )
        for (year, month), month_days in sorted(by_month.items())
    ]


def holidays_covered_until(spec: ScheduleSpec) -> int | None:
    """The last year whose holidays a described schedule's exclude calendars hold."""
    years = [
        r.end
        for calendar in spec.skip
        if (calendar.comment or "").startswith(HOLIDAYS_COMMENT)
        for r in calendar.year
    ]
    return max(years) if years else None


def catchup_window_of(job: Job, default_seconds: int) -> int:
    """A job's catch-up window in seconds: its own, else the deployment's (Temporal min 10)."""
    own = job.catchup_window_seconds
    return max(own if own is not None else default_seconds, 10)


def build_schedule(
    job: Job,
    *,
    task_queue: str,
    default_catchup_window_seconds: int,
    now: datetime | None = None,
) -> Schedule:
    """The Temporal Schedule of a job, in the state the job is in.

    The catch-up window is the job's own, or ``default_catchup_window_seconds`` (the setting);
    the job's jitter is the spec's; holiday exclusions cover ``holiday_years(now)``.
    """
    schedule = parse_schedule(job.schedule)
    one_off = isinstance(schedule, AtSchedule)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RUN_WORKFLOW,
            JobRunInput(job_id=job.id, owner=job.owner, trigger="schedule"),
            id=scheduled_run_prefix(job.id),
            task_queue=task_queue,
            typed_search_attributes=job_search_attributes(job, "schedule"),
            memo=run_memo(job),
            static_summary=f"{job.name} ({job.agent_id})"[:200],
        ),
        spec=schedule_spec(schedule, jitter_seconds=job.jitter_seconds or 0, now=now),
        policy=SchedulePolicy(
            overlap=OVERLAP[job.overlap],
            catchup_window=timedelta(
                seconds=catchup_window_of(job, default_catchup_window_seconds)
            ),
        ),
        state=ScheduleState(
            paused=job.status != "active",
            note=job.paused_reason if job.status == "paused" else None,
            limited_actions=one_off,
            remaining_actions=1 if one_off else 0,
        ),
    )


def schedule_memo(job: Job) -> dict[str, str]:
    """The schedule's own memo in the Temporal UI: whose job it is.

    Only what never changes: Temporal cannot update a schedule's memo, so what a job does
    (which an edit changes) is in its runs' memo and the schedule's summary instead.
    """
    return {"owner": job.owner, "job_id": job.id}


def run_memo(job: Job) -> dict[str, str]:
    """Each run's memo in the Temporal UI: what the job was when the run started."""
    return {"name": job.name, "agent_id": job.agent_id, "goal": job.goal[:500]}


def tick_schedule_id(settings: Settings) -> str:
    """Id of the tick's schedule: one per task queue (= per deployment)."""
    return f"{settings.task_queue}-tick"


def tick_schedule(settings: Settings) -> Schedule:
    """Every tick interval, skipping a tick while the previous one still runs."""
    interval = timedelta(seconds=settings.tick_interval_seconds)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            TICK_WORKFLOW,
            # Rows and schedules younger than this may be mid-write by the API; a short tick
            # interval (tests) shortens it.
            TickInput(grace_seconds=min(15, settings.tick_interval_seconds)),
            id=tick_schedule_id(settings),
            task_queue=settings.task_queue,
            static_summary="agent-scheduler reconciler tick",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=interval)]),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP,
            catchup_window=max(interval, timedelta(seconds=10)),
        ),
    )


async def ensure_tick_schedule(client: Client, settings: Settings) -> None:
    """Create the tick's schedule, or bring an existing one to these settings (idempotent)."""
    if settings.tick_interval_seconds <= 0:
        return
    schedule = tick_schedule(settings)
    schedule_id = tick_schedule_id(settings)
    try:
        await client.create_schedule(schedule_id, schedule)
        log.info("created the tick schedule %s", schedule_id)
        return
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(schedule_id)
    current = (await handle.describe()).schedule
    if current.spec.intervals != schedule.spec.intervals or current.state.paused:
        await handle.update(lambda _: ScheduleUpdate(schedule=schedule))


async def ensure_tick_schedule_logged(client: Client, settings: Settings) -> None:
    """:func:`ensure_tick_schedule` for a starting worker: a failure is logged, not raised."""
    try:
        await ensure_tick_schedule(client, settings)
    except RPCError as exc:
        log.warning("could not ensure the tick schedule: %s", exc)
