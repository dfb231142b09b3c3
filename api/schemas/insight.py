"""Models of the insight routes (docs/api.md, "Stats and status", "Smart scheduling"): stats,
engine status, activity, heatmap, suggestions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from domain.inputs import Text, check_instant, iso_text


class Stats(BaseModel):
    """The caller's aggregate statistics."""

    total_jobs: int
    active_jobs: int
    total_runs_today: int = Field(description="Runs started since local midnight in `timezone`.")
    success_rate: float | None = Field(
        description="completed / (completed + failed + timed_out) over runs finished in the "
        "last `days` days, 4 decimals; null without such runs."
    )
    avg_duration_seconds: float | None = Field(
        description="Mean duration of those runs, 3 decimals; null without such runs."
    )
    jobs_by_status: dict[str, int]
    timezone: str
    days: int
    open_incidents: int = Field(0, description="The owner's open incidents (`GET /incidents`).")


class LastRun(BaseModel):
    """A job's most recently started run."""

    id: str
    status: str
    started_at: datetime | None
    completed_at: datetime | None


class Durations(BaseModel):
    """Durations (seconds) of a job's finished runs, 3 decimals."""

    mean: float | None
    p50: float | None
    p95: float | None


class DayCount(BaseModel):
    """Runs started on one local day."""

    date: date
    count: int


class UsageTotals(BaseModel):
    """Tokens and cost the job's agents reported, over all its runs."""

    runs: int = Field(description="Runs that reported any usage.")
    input_tokens: int
    output_tokens: int
    total_tokens: int
    cost_usd: float


class BudgetUse(BaseModel):
    """The job's budget and what the current windows (in the job's zone) used of it."""

    timezone: str = Field(description="The job's zone: the budget's days and months are its.")
    day: date
    month: str = Field(description="`YYYY-MM`.")
    runs_today: int
    tokens_today: int
    cost_usd_this_month: float
    max_runs_per_day: int | None
    max_tokens_per_day: int | None
    max_cost_usd_per_month: float | None


class JobStats(BaseModel):
    """Statistics of one job."""

    job_id: str
    total_runs: int
    runs_by_status: dict[str, int]
    success_rate: float | None
    duration_seconds: Durations
    last_run: LastRun | None
    consecutive_failures: int
    runs_per_day: list[DayCount] = Field(description="The last 30 local days, oldest first.")
    timezone: str
    usage: UsageTotals
    budget: BudgetUse | None = Field(description="Null when the job has no budget.")


class ActivityIn(BaseModel):
    """One event from the host platform."""

    model_config = ConfigDict(extra="forbid")

    at: Annotated[AwareDatetime, BeforeValidator(iso_text), AfterValidator(check_instant)] = Field(
        description="ISO 8601 with an offset, e.g. `2030-01-05T09:30:00Z`."
    )
    kind: Text = Field(min_length=1, max_length=100)


class ActivityBatch(BaseModel):
    """Up to 1,000 events."""

    model_config = ConfigDict(extra="forbid")

    events: list[ActivityIn] = Field(min_length=1, max_length=1000)


class ActivityAccepted(BaseModel):
    """How many events were recorded."""

    accepted: int


class Heatmap(BaseModel):
    """Activity per local weekday (rows, Mon first) and hour (columns)."""

    timezone: str
    days: list[str]
    hours: list[int]
    grid: list[list[int]]
    max: int
    total: int
    since: datetime = Field(description="Local midnight the counted period starts at.")


class CronOut(BaseModel):
    """A cron schedule ready to use in a job."""

    type: Literal["cron"] = "cron"
    expression: str
    timezone: str


class SuggestionOut(BaseModel):
    """One suggested time and why."""

    time: str
    days: str
    reason: str
    schedule: CronOut


class SuggestionsOut(BaseModel):
    """Suggested times, or none and a note saying why."""

    suggestions: list[SuggestionOut]
    note: str | None = None
    timezone: str
    days: int


class TemporalStatus(BaseModel):
    """The Temporal cluster the service uses."""

    address: str
    namespace: str
    reachable: bool


class WorkerPoller(BaseModel):
    """A worker polling the task queue."""

    identity: str
    last_access_time: datetime | None


class TickSummary(BaseModel):
    """What the last tick checked and repaired."""

    started_at: datetime
    finished_at: datetime
    jobs_checked: int
    schedules_checked: int
    runs_checked: int
    repairs: dict[str, int]


class EngineStatus(BaseModel):
    """Engine status (docs/api.md, "Stats and status")."""

    running: bool = Field(description="Temporal reachable and at least one worker polling.")
    tick_interval_seconds: int
    last_tick_at: datetime | None
    next_tick_at: datetime | None
    jobs_checked_last_tick: int | None
    last_tick: TickSummary | None
    repairs_last_24h: dict[str, int]
    temporal: TemporalStatus
    task_queue: str
    workers: list[WorkerPoller]
