"""Job models: create, partial update, public view.

``Delivery``, ``Condition`` and ``RetryPolicy`` live in ``domain/``: runs carry them too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    TypeAdapter,
    model_validator,
)

from api.schemas.runs import RunPublic
from api.schemas.time import ScheduleWarning
from domain.alerts import AlertSettings, Deadline, IncidentKind
from domain.budgets import Budget
from domain.conditions import Condition
from domain.delivery import Delivery
from domain.inputs import IsoDatetime, JsonBool, JsonInt, Text
from domain.retry import RetryPolicy
from domain.schedules import (
    MAX_CATCHUP_WINDOW_SECONDS,
    MAX_JITTER_SECONDS,
    MIN_CATCHUP_WINDOW_SECONDS,
    AtSchedule,
    CronSchedule,
    EverySchedule,
    Schedule,
)

Overlap = Literal["skip", "buffer_one", "allow_all", "cancel_other"]
JobStatus = Literal["active", "paused", "completed", "failed"]
MAX_FALLBACK_AGENTS = 5

_CATCHUP_DOC = (
    "How late a fire missed during an outage may still run, in seconds; null: the "
    "deployment's setting (AGENT_SCHEDULER_CATCHUP_WINDOW_SECONDS, 300 by default)."
)
_JITTER_DOC = (
    "Each scheduled run starts up to this many seconds after its nominal time (random, "
    "Temporal's schedule jitter); shorter than the schedule's spacing between fires."
)

_schedule_adapter: TypeAdapter[CronSchedule | EverySchedule | AtSchedule] = TypeAdapter(Schedule)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_FALLBACK_DOC = "Agents for the next attempt after a 429, 5xx or timeout, in order."
FallbackAgentIds = list[Annotated[Text, Field(min_length=1, max_length=200)]]


_ALERTS_DOC = "Incident alerts; omitted: the owner's default; null: none."
_GRACE_DOC = "Seconds after its time (plus jitter) a fire not started is `missed`; null: 300."


class _JobFields(_Strict):
    delivery: Delivery | None = None
    condition: Condition | None = None
    retry: RetryPolicy | None = None
    budget: Budget | None = None
    alerts: AlertSettings | None = Field(None, description=_ALERTS_DOC)
    grace_seconds: JsonInt | None = Field(None, ge=0, le=86_400, description=_GRACE_DOC)
    deadline: Deadline | None = Field(None, description="`late` unless a run completed by then.")
    max_run_seconds: JsonInt | None = Field(
        None, ge=1, le=7 * 86_400, description="A run going longer is `late`."
    )


class JobCreate(_JobFields):
    """Body of ``POST /jobs``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Daily digest",
                    "goal": "Summarize yesterday's activity",
                    "agent_id": "echo",
                    "schedule": {"type": "cron", "expression": "0 8 * * 1-5", "timezone": "UTC"},
                    "enabled": False,
                }
            ]
        }
    )

    name: Text = Field(min_length=1, max_length=200)
    goal: Text = Field(min_length=1, max_length=20_000)
    agent_id: Text = Field(min_length=1, max_length=200, examples=["echo"])
    fallback_agent_ids: FallbackAgentIds = Field(
        default_factory=list, max_length=MAX_FALLBACK_AGENTS, description=_FALLBACK_DOC
    )
    schedule: Schedule
    timeout_seconds: JsonInt = Field(1800, ge=1, le=7 * 86_400, description="Per attempt.")
    overlap: Overlap = "skip"
    enabled: JsonBool = True
    max_consecutive_failures: JsonInt = Field(
        5, ge=0, le=1000, description="Failed runs in a row before the job pauses; 0: never."
    )
    catchup_window_seconds: JsonInt | None = Field(
        None, ge=MIN_CATCHUP_WINDOW_SECONDS, le=MAX_CATCHUP_WINDOW_SECONDS, description=_CATCHUP_DOC
    )
    jitter_seconds: JsonInt = Field(0, ge=0, le=MAX_JITTER_SECONDS, description=_JITTER_DOC)


def _omittable(**constraints: Any) -> Any:
    """A field an update may omit but not set to null: no null, no default in the schema."""
    return Field(None, json_schema_extra=_drop_default, **constraints)


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class JobUpdate(_JobFields):
    """Body of ``PUT /jobs/{id}``: only the fields sent change.

    ``delivery``, ``condition``, ``retry`` and ``budget`` may be null (removed); every other
    field may be omitted but not null. A ``schedule`` without a ``timezone`` keeps the job's zone.
    """

    name: Text = _omittable(min_length=1, max_length=200)
    goal: Text = _omittable(min_length=1, max_length=20_000)
    agent_id: Text = _omittable(min_length=1, max_length=200)
    fallback_agent_ids: FallbackAgentIds | None = Field(
        None, max_length=MAX_FALLBACK_AGENTS, description=_FALLBACK_DOC + " Null or []: none."
    )
    schedule: Schedule = _omittable()
    timeout_seconds: JsonInt = _omittable(ge=1, le=7 * 86_400)
    overlap: Overlap = _omittable()
    enabled: JsonBool = _omittable()
    max_consecutive_failures: JsonInt = _omittable(ge=0, le=1000)
    catchup_window_seconds: JsonInt | None = Field(
        None, ge=MIN_CATCHUP_WINDOW_SECONDS, le=MAX_CATCHUP_WINDOW_SECONDS, description=_CATCHUP_DOC
    )
    jitter_seconds: JsonInt = _omittable(ge=0, le=MAX_JITTER_SECONDS, description=_JITTER_DOC)
    alerts_from: Literal["owner"] = _omittable(
        description="`owner`: the job's own `alerts` (or `alerts: null`) go; it uses the "
        "owner's default again. Not with `alerts`."
    )
    _schedule_sent: dict[str, Any] | None = PrivateAttr(None)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_schedule_as_sent(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        update = handler(data)
        if isinstance(data, dict) and isinstance(data.get("schedule"), dict):
            update._schedule_sent = dict(data["schedule"])
        return update

    def schedule_in_zone(self, zone: str) -> CronSchedule | EverySchedule | AtSchedule:
        """The schedule sent, read in ``zone`` (the job's) when it names no ``timezone``.

        A naive ``at`` datetime is then a wall time in ``zone``.

        Raises:
            ValidationError: Read in ``zone``, the schedule is invalid (an ``at`` time past
                Temporal's years).
        """
        sent = self._schedule_sent
        if sent is None or "timezone" in sent:
            return self.schedule
        return _schedule_adapter.validate_python({**sent, "timezone": zone})


class IncidentBrief(BaseModel):
    """An open incident as a job shows it (the whole incident: ``GET /incidents/{id}``)."""

    id: str
    kind: IncidentKind
    opened_at: datetime


class JobPublic(BaseModel):
    """A job as the API shows it."""

    id: str
    name: str
    goal: str
    agent_id: str
    fallback_agent_ids: list[str] = Field(description=_FALLBACK_DOC)
    schedule: dict[str, Any]
    schedule_description: str = Field(
        description="The schedule in words, e.g. 'At 09:00 AM, Monday through Friday, UTC'."
    )
    status: JobStatus
    delivery: Delivery | None
    condition: Condition | None
    retry: RetryPolicy | None
    budget: Budget | None
    timeout_seconds: int
    overlap: Overlap
    max_consecutive_failures: int
    catchup_window_seconds: int = Field(description="In effect: the job's own, or the setting.")
    jitter_seconds: int = Field(description="0: runs start at their nominal times.")
    consecutive_failures: int
    paused_reason: str | None
    budget_reopens_at: datetime | None = Field(
        description="While the job is paused by its budget: when it resumes by itself (the "
        "start of the next local day or month in the job's zone); else null."
    )
    next_run_at: datetime | None = Field(
        description="The next nominal fire time; with a jitter the run starts up to "
        "jitter_seconds later."
    )
    last_run_at: datetime | None
    schedule_warnings: list[ScheduleWarning] = Field(
        description="Fires of the next 366 days that a DST change skips, shifts or doubles "
        "(cron schedules only)."
    )
    run_count: int
    created_at: datetime
    updated_at: datetime
    temporal_ui_url: str
    alerts: AlertSettings | None = Field(
        None, description="The job's own alert settings; null when it uses the owner's or none."
    )
    alerts_from: Literal["job", "owner", "off"] = Field(
        "owner",
        description="`job`: its own `alerts`; `owner`: the owner's default "
        "(`GET /settings/alerts`); `off`: created or updated with `alerts: null`.",
    )
    grace_seconds: int = Field(300, description="In effect: the job's own, or 300.")
    deadline: Deadline | None = None
    max_run_seconds: int | None = None
    created_by: str | None = Field(
        None,
        description="The id of the API key that created the job (null before keys were recorded).",
    )
    open_incidents: list[IncidentBrief] = Field(
        default_factory=list, description="The job's open incidents, oldest first."
    )


class JobsPublic(BaseModel):
    """A page of jobs and the total that match the filter."""

    jobs: list[JobPublic]
    count: int


class TriggerAccepted(BaseModel):
    """Answer of ``POST /jobs/{id}/trigger``."""

    run_id: str
    job_id: str


BackfillOverlap = Literal["skip", "buffer_one", "buffer_all", "allow_all", "cancel_other"]


class SkipRequest(_Strict):
    """Body of ``POST /jobs/{id}/skip``: one future fire the schedule does not make."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"at": "2027-01-04T09:00:00"}]})

    at: IsoDatetime = Field(description="The fire time to skip; naive: in the job's zone.")


class PauseRequest(_Strict):
    """Body of ``POST /jobs/{id}/pause``, which may also be sent without one."""

    reason: Text = Field(
        min_length=1,
        max_length=500,
        description="Why: kept in the job's `paused_reason` as `paused by user: <reason>`.",
    )


class BackfillRequest(_Strict):
    """Body of ``POST /jobs/{id}/backfill``: run the schedule's fires in ``[start, end)``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start": "2026-03-07T00:00:00",
                    "end": "2026-03-09T00:00:00",
                    "overlap": "buffer_all",
                }
            ]
        }
    )

    start: IsoDatetime = Field(description="First instant covered; naive: in the job's zone.")
    end: IsoDatetime = Field(
        description="End of the range, not covered; after start, not in the future."
    )
    overlap: BackfillOverlap = Field(
        "buffer_all",
        description="While a backfilled run runs: buffer_all (default) runs the fires one "
        "after another, in order; the others are Temporal's overlap policies.",
    )


class BackfillAccepted(BaseModel):
    """Answer of ``POST /jobs/{id}/backfill``: the fires that will run."""

    job_id: str
    backfill_id: str
    start: datetime
    end: datetime
    overlap: BackfillOverlap
    fires: int = Field(description="Fires in the range that will run (at most 1,000).")
    already_run: int = Field(description="Fires in the range that ran already; not run again.")
    first_fire: datetime | None
    last_fire: datetime | None


class ExplainReason(BaseModel):
    """One cause ``explain`` found, with the evidence it read."""

    code: Literal[
        "not_a_fire",
        "skipped_on_purpose",
        "dst_gap",
        "dst_repeat",
        "created_after",
        "paused",
        "in_the_future",
        "skipped_overlap",
        "missed_catchup_window",
        "condition_false",
        "failed",
        "timed_out",
        "cancelled",
        "running",
        "completed",
        "delivered",
        "not_delivered",
        "no_delivery",
        "no_run_recorded",
    ]
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class Explanation(BaseModel):
    """Answer of ``GET /jobs/{id}/explain``: was the job due at ``at``, and what happened."""

    job_id: str
    at: datetime
    due: bool = Field(description="Whether ``at`` is a fire time of the schedule.")
    nearest_fires: list[datetime] = Field(
        description="The fire before ``at`` and the one after (``at`` itself excluded)."
    )
    run: RunPublic | None = Field(description="The run of the fire at ``at``, if it has one.")
    verdict: Literal["not_due", "ran", "running", "did_not_run", "will_run", "will_not_run"]
    reasons: list[ExplainReason]
    incident: IncidentBrief | None = Field(
        None,
        description="The incident this fire belongs to: a missed or late one about it, or a "
        "failing or paused one open when its run ended.",
    )
