"""The MCP tools: what each takes (a pydantic model, its input schema), what it answers (a
pydantic model, its output schema), and the service call it makes: the one its REST route makes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.core.settings import Settings
from api.deps import MAX_OFFSET
from api.schemas.incidents import IncidentPublic, IncidentsPublic, IncidentStatus
from api.schemas.jobs import JobCreate, JobPublic, JobsPublic, JobStatus, JobUpdate, TriggerAccepted
from api.schemas.runs import RunPublic, RunsPublic, RunStatus
from api.schemas.time import ParsedSchedule, ParseRequest, Validation
from api.services import time as time_service
from api.services.audit import actor_of
from api.services.incidents import IncidentService
from api.services.jobs import JobService
from api.services.runs import RunService
from domain.alerts import IncidentKind
from domain.inputs import JsonBool, JsonInt, Text
from domain.schedules import next_fire_times
from domain.timezones import TimezoneName, load_timezone

JOB_ID = "A job id (`job_…`), as create_job or list_jobs answer it."
RUN_ID = "A run id (`run_…`), as trigger_job or list_runs answer it."


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobRef(_Args):
    """Which job."""

    job_id: Text = Field(description=JOB_ID)


class PauseArgs(JobRef):
    """Which job, and why it is paused."""

    reason: Text | None = Field(
        None, min_length=1, max_length=500, description="Why; kept in its `paused_reason`."
    )


class ListJobsArgs(_Args):
    """A page of your jobs."""

    status: JobStatus | None = Field(None, description="Only jobs in this status.")
    limit: JsonInt = Field(50, ge=1, le=200, description="Page size (at most 200).")
    offset: JsonInt = Field(0, ge=0, le=MAX_OFFSET, description="How many to skip.")


class UpdateJobArgs(JobUpdate):
    """Which job, and the fields to change (only those sent change)."""

    job_id: Text = Field(description=JOB_ID)


class DeleteJobArgs(JobRef):
    """Which job, and whether its running runs are cancelled too."""

    cancel_running: JsonBool = Field(False, description="Also cancel the job's running runs.")


class ListRunsArgs(JobRef):
    """A page of one job's runs."""

    status: RunStatus | None = Field(None, description="Only runs in this status.")
    limit: JsonInt = Field(20, ge=1, le=200, description="Page size (at most 200).")
    offset: JsonInt = Field(0, ge=0, le=MAX_OFFSET, description="How many to skip.")


class ListIncidentsArgs(_Args):
    """A page of your incidents."""

    status: IncidentStatus | None = Field(None, description="`open` or `resolved`.")
    job_id: Text | None = Field(None, max_length=40, description="Only this job's.")
    kind: IncidentKind | None = Field(None, description="`failing`, `missed`, `late` or `paused`.")
    limit: JsonInt = Field(20, ge=1, le=200, description="Page size (at most 200).")
    offset: JsonInt = Field(0, ge=0, le=MAX_OFFSET, description="How many to skip.")


class IncidentRef(_Args):
    """Which incident."""

    incident_id: Text = Field(description="An incident id (`inc_…`), as list_incidents answers.")


class RunRef(JobRef):
    """Which run of which job."""

    run_id: Text = Field(description=RUN_ID)


class ParseScheduleArgs(ParseRequest):
    """Words to read as a schedule."""

    model_config = ConfigDict(extra="forbid")

    text: Text = Field(
        min_length=1,
        max_length=500,
        description="The schedule in English, e.g. `every weekday at 9am Pacific`, "
        "`every 15 minutes`, `tomorrow at noon`, `first Monday of the month at 8:30`.",
    )
    timezone: TimezoneName = Field(
        "UTC", description="The IANA zone meant when the text names none, e.g. `Europe/Paris`."
    )
    count: JsonInt = Field(3, ge=1, le=20, description="How many next runs to preview.")


class ValidateScheduleArgs(_Args):
    """A schedule to check: a whole `schedule` object, or its `type` and value."""

    schedule: dict[str, Any] | None = Field(
        None,
        description="A whole schedule, as create_job's `schedule` (with an `every` offset, "
        "`exclude`, a list of cron expressions); give this or `type` and `value`.",
    )
    type: time_service.ScheduleType | None = Field(
        None, description="`cron`, `every` or `at` (the `type` of a schedule)."
    )
    value: Text | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="The cron `expression` (5 fields, e.g. `0 9 * * 1-5`), the `every` interval "
        "(seconds or `30m`, `2h`), or the `at` ISO 8601 datetime.",
    )
    timezone: Text = Field("UTC", description="An IANA time zone name, e.g. `America/New_York`.")
    count: JsonInt = Field(3, ge=1, le=100, description="How many next fire times to answer.")

    @model_validator(mode="after")
    def _one_form(self) -> ValidateScheduleArgs:
        if (self.schedule is None) == (self.type is None or self.value is None):
            raise ValueError("give either `schedule`, or `type` and `value`")
        return self


class SchedulePreview(ParsedSchedule):
    """A schedule read from words, with its next runs and a sentence to confirm it by."""

    next_runs: list[datetime] = Field(description="The next fire times, in the schedule's zone.")
    confirmation: str = Field(
        description="A sentence to show the user before creating the job with this schedule."
    )


class Deleted(BaseModel):
    """Answer of delete_job."""

    job_id: str
    deleted: Literal[True] = True


@dataclass
class Call:
    """What a tool call works with: the caller's services, the settings, the current instant."""

    jobs: JobService
    runs: RunService
    settings: Settings
    now: datetime


Run = Callable[[Call, Any, Mapping[str, Any]], Awaitable[BaseModel]]


@dataclass(frozen=True)
class ToolSpec:
    """One MCP tool."""

    name: str
    title: str
    description: str
    args: type[BaseModel]
    output: type[BaseModel]
    run: Run
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False


async def _create(call: Call, args: JobCreate, _: Mapping[str, Any]) -> JobPublic:
    return call.jobs.public(await call.jobs.create(args))


async def _list(call: Call, args: ListJobsArgs, _: Mapping[str, Any]) -> JobsPublic:
    return await call.jobs.list(status=args.status, limit=args.limit, offset=args.offset)


async def _get(call: Call, args: JobRef, _: Mapping[str, Any]) -> JobPublic:
    return call.jobs.public(await call.jobs.get(args.job_id))


async def _update(call: Call, args: UpdateJobArgs, raw: Mapping[str, Any]) -> JobPublic:
    # From the arguments as sent: a schedule without a timezone keeps the job's zone.
    body = JobUpdate.model_validate({k: v for k, v in raw.items() if k != "job_id"})
    return call.jobs.public(await call.jobs.update(args.job_id, body))


async def _pause(call: Call, args: PauseArgs, _: Mapping[str, Any]) -> JobPublic:
    return call.jobs.public(await call.jobs.pause(args.job_id, reason=args.reason))


async def _resume(call: Call, args: JobRef, _: Mapping[str, Any]) -> JobPublic:
    return call.jobs.public(await call.jobs.resume(args.job_id))


async def _delete(call: Call, args: DeleteJobArgs, _: Mapping[str, Any]) -> Deleted:
    await call.jobs.delete(args.job_id, cancel_running=args.cancel_running)
    return Deleted(job_id=args.job_id)


async def _trigger(call: Call, args: JobRef, _: Mapping[str, Any]) -> TriggerAccepted:
    return TriggerAccepted(run_id=await call.jobs.trigger(args.job_id), job_id=args.job_id)


async def _list_runs(call: Call, args: ListRunsArgs, _: Mapping[str, Any]) -> RunsPublic:
    return await call.runs.list(
        args.job_id, status=args.status, limit=args.limit, offset=args.offset
    )


async def _get_run(call: Call, args: RunRef, _: Mapping[str, Any]) -> RunPublic:
    return call.runs.public(await call.runs.get(args.job_id, args.run_id))


def _incidents(call: Call) -> IncidentService:
    jobs = call.jobs
    return IncidentService(
        session=jobs.session, settings=call.settings, owner=jobs.owner, now=call.now
    )


async def _list_incidents(
    call: Call, args: ListIncidentsArgs, _: Mapping[str, Any]
) -> IncidentsPublic:
    return await _incidents(call).list_page(
        status=args.status,
        job_id=args.job_id,
        kind=args.kind,
        limit=args.limit,
        offset=args.offset,
    )


async def _ack_incident(call: Call, args: IncidentRef, _: Mapping[str, Any]) -> IncidentPublic:
    actor = actor_of(call.jobs.guard.caller)
    return await _incidents(call).ack(args.incident_id, by=call.jobs.owner, actor=actor)


def confirmation(parsed: ParsedSchedule, next_runs: list[datetime]) -> str:
    """The sentence that shows a user what a schedule read from their words means."""
    when = ", ".join(t.isoformat() for t in next_runs) or "never (the time has passed)"
    how = "rules" if parsed.parse_method == "regex" else "the LLM"
    # Readings the parser chose (an am/pm, a word left out): the user confirms them too.
    check = "".join(f" Check: {warning}." for warning in parsed.warnings)
    return (
        f"{parsed.human_readable} (read by {how}, confidence {parsed.confidence:.2f}). "
        f"Next runs: {when}.{check}"
    )


async def _parse(call: Call, args: ParseScheduleArgs, _: Mapping[str, Any]) -> SchedulePreview:
    parsed = await time_service.parse_nl(args.text, args.timezone, call.settings, now=call.now)
    zone = load_timezone(parsed.schedule.timezone)
    fires = next_fire_times(parsed.schedule, after=call.now, count=args.count)
    next_runs = [t.astimezone(zone) for t in fires]
    return SchedulePreview(
        **parsed.model_dump(), next_runs=next_runs, confirmation=confirmation(parsed, next_runs)
    )


async def _validate(call: Call, args: ValidateScheduleArgs, _: Mapping[str, Any]) -> Validation:
    if args.schedule is not None:
        return time_service.validate_schedule(args.schedule, args.count, now=call.now)
    assert args.type is not None and args.value is not None
    return time_service.validate(args.type, args.value, args.timezone, args.count, now=call.now)


SCHEDULES = (
    "A `schedule` is one of: "
    '`{"type": "cron", "expression": "0 9 * * 1-5", "timezone": "America/Los_Angeles"}` '
    "(5-field cron, wall time in the zone; `L`, `LW`, `15W`, `5L`, `2#2` for the last day, "
    "the last weekday, the weekday nearest the 15th, the last Friday, the second Tuesday; a "
    "list of expressions fires at the times of any), "
    '`{"type": "every", "interval": "30m"}` (seconds or a duration such as `2h`), '
    '`{"type": "at", "datetime": "2027-01-15T09:00:00", "timezone": "Europe/Paris"}` '
    "(once, in the future). `cron` and `every` take `exclude`: "
    '`{"holidays": "US", "dates": ["2027-12-24"]}`; any schedule takes `start_at` / `end_at` '
    "(ISO 8601, both included). "
    "When the user describes the time in words, call parse_schedule "
    "first and pass its `schedule` on as is."
)

TOOLS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            name="create_job",
            title="Create a scheduled job",
            description=(
                "Schedule an agent: run agent `agent_id` with `goal` as its task on `schedule`, "
                "and (optionally) deliver each result to `delivery.channel` (`slack:#chan`, "
                "`webhook:https://…`, `email:addr`), only when `condition` holds, retrying "
                f"like `retry`. {SCHEDULES} `agent_id` must name a configured agent (`echo` "
                "always exists: it answers the goal); `fallback_agent_ids` (configured agents, "
                "in order) take over an attempt after a 429, 5xx, timeout or unreachable agent. "
                "`delivery.only_if_changed`: `true` skips a repeat of the last delivered output, "
                '`"semantic"` also a near-duplicate of one of the last 5 (by embeddings). '
                "`enabled: false` creates it paused. "
                "Answers the job; its `next_run_at` is when it runs first."
            ),
            args=JobCreate,
            output=JobPublic,
            run=_create,
        ),
        ToolSpec(
            name="list_jobs",
            title="List jobs",
            description=(
                "Your jobs, newest first, a page at a time; `count` is how many match in all. "
                "Filter by `status` (`active`, `paused`, `completed`, `failed`)."
            ),
            args=ListJobsArgs,
            output=JobsPublic,
            run=_list,
            read_only=True,
        ),
        ToolSpec(
            name="get_job",
            title="Show a job",
            description=(
                "One job: its schedule, status (and `paused_reason`), `next_run_at`, "
                "`last_run_at`, `run_count` and `consecutive_failures`."
            ),
            args=JobRef,
            output=JobPublic,
            run=_get,
            read_only=True,
        ),
        ToolSpec(
            name="update_job",
            title="Change a job",
            description=(
                "Change only the fields sent (all but `job_id` are optional); a new schedule "
                "applies from the next fire, and one without a `timezone` keeps the job's zone. "
                "`delivery`, `condition` and `retry` may be set to null to remove them. "
                f"{SCHEDULES} Answers the updated job."
            ),
            args=UpdateJobArgs,
            output=JobPublic,
            run=_update,
            idempotent=True,
        ),
        ToolSpec(
            name="pause_job",
            title="Pause a job",
            description=(
                "Stop a job's schedule from firing (trigger_job still runs it). A completed or "
                "failed one-off job cannot be paused (a conflict error)."
            ),
            args=PauseArgs,
            output=JobPublic,
            run=_pause,
            idempotent=True,
        ),
        ToolSpec(
            name="resume_job",
            title="Resume a job",
            description=(
                "Let a paused job's schedule fire again (also after it paused itself on "
                "repeated failures; its failure count restarts)."
            ),
            args=JobRef,
            output=JobPublic,
            run=_resume,
            idempotent=True,
        ),
        ToolSpec(
            name="delete_job",
            title="Delete a job",
            description=(
                "Delete a job and its schedule for good; its run history goes with it. "
                "`cancel_running: true` also cancels runs in flight. A job a chain uses "
                "cannot be deleted (a conflict error)."
            ),
            args=DeleteJobArgs,
            output=Deleted,
            run=_delete,
            destructive=True,
        ),
        ToolSpec(
            name="trigger_job",
            title="Run a job now",
            description=(
                "Start a run of the job now, whatever its schedule or status. Answers the "
                "`run_id` at once; the run goes on in the background: follow it with get_run "
                "until its `status` is no longer `running`."
            ),
            args=JobRef,
            output=TriggerAccepted,
            run=_trigger,
        ),
        ToolSpec(
            name="list_runs",
            title="List a job's runs",
            description=(
                "A job's runs, newest first, a page at a time; each with its status, output, "
                "error and delivery outcome. Filter by `status` (`running`, `completed`, "
                "`failed`, `cancelled`, `timed_out`, `skipped`)."
            ),
            args=ListRunsArgs,
            output=RunsPublic,
            run=_list_runs,
            read_only=True,
        ),
        ToolSpec(
            name="get_run",
            title="Show a run",
            description=(
                "One run: `status` (`running` until it ends `completed`, `failed`, "
                "`cancelled`, `timed_out` or `skipped`), the agent's `output` and `data`, "
                "`error`, `attempts`, `condition_result` and `delivery`."
            ),
            args=RunRef,
            output=RunPublic,
            run=_get_run,
            read_only=True,
        ),
        ToolSpec(
            name="list_incidents",
            title="List incidents",
            description=(
                "What went wrong with your jobs, newest first: `failing` (runs failed after "
                "every retry), `missed` (a fire did not start), `late` (a deadline passed, or a "
                "run ran too long), `paused` (a job paused itself). Filter by `status` "
                "(`open`, `resolved`), `job_id`, `kind`. Each has its reason and the "
                "notifications sent."
            ),
            args=ListIncidentsArgs,
            output=IncidentsPublic,
            run=_list_incidents,
            read_only=True,
        ),
        ToolSpec(
            name="ack_incident",
            title="Acknowledge an incident",
            description=(
                "Acknowledge an open incident: its reminders stop (it still resolves, with its "
                "recovery notice). Records who acknowledged it and when."
            ),
            args=IncidentRef,
            output=IncidentPublic,
            run=_ack_incident,
            idempotent=True,
        ),
        ToolSpec(
            name="parse_schedule",
            title="Read a schedule from words",
            description=(
                "Turn a schedule described in English into the `schedule` object create_job "
                "and update_job take, with its next runs and a `confirmation` sentence: show "
                "that to the user before creating the job. Zones named in the text win over "
                "`timezone`. Text that is not a schedule is an error saying why."
            ),
            args=ParseScheduleArgs,
            output=SchedulePreview,
            run=_parse,
            read_only=True,
            idempotent=True,
        ),
        ToolSpec(
            name="validate_schedule",
            title="Check a schedule",
            description=(
                "The next fire times of a schedule exactly as the scheduler will fire them "
                '(DST included), or `{"valid": false, "error": …}` saying what is wrong with '
                "it. Give the schedule's `type`, its value, and its `timezone`."
            ),
            args=ValidateScheduleArgs,
            output=Validation,
            run=_validate,
            read_only=True,
            idempotent=True,
        ),
    )
}
