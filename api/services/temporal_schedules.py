"""How a job maps onto its Temporal Schedule (schedule id = job id)."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from pydantic import TypeAdapter
from temporalio.client import (
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.common import TypedSearchAttributes

from api.index.models import Job
from api.settings import Settings
from domain import search_attributes
from domain.payloads import JobRunInput
from domain.schedules import AtSchedule, CronSchedule, EverySchedule
from domain.schedules import Schedule as JobSchedule
from workflows.job_run import JobRunWorkflow

OVERLAP = {
    "skip": ScheduleOverlapPolicy.SKIP,
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


def job_search_attributes(job: Job, trigger: str) -> TypedSearchAttributes:
    """Search attributes that make a job's schedule and runs findable in the Temporal UI."""
    return search_attributes.run_attributes(job.id, job.owner, trigger)


def _spec(schedule: CronSchedule | EverySchedule | AtSchedule) -> ScheduleSpec:
    if isinstance(schedule, CronSchedule):
        return ScheduleSpec(
            cron_expressions=[schedule.expression], time_zone_name=schedule.timezone
        )
    if isinstance(schedule, EverySchedule):
        return ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=timedelta(seconds=schedule.interval))]
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
    )


def build_schedule(job: Job, settings: Settings) -> Schedule:
    """The Temporal Schedule of a job, in the state the job is in."""
    schedule = parse_schedule(job.schedule)
    one_off = isinstance(schedule, AtSchedule)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            JobRunWorkflow.run,
            JobRunInput(job_id=job.id, owner=job.owner, trigger="schedule"),
            id=scheduled_run_prefix(job.id),
            task_queue=settings.task_queue,
            typed_search_attributes=job_search_attributes(job, "schedule"),
            memo=run_memo(job),
            static_summary=f"{job.name} ({job.agent_id})"[:200],
        ),
        spec=_spec(schedule),
        policy=SchedulePolicy(
            overlap=OVERLAP[job.overlap],
            catchup_window=timedelta(seconds=max(settings.catchup_window_seconds, 10)),
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
