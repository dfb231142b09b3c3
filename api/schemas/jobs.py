"""Job models: create, partial update, public view."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from domain.conditions import ConditionSyntaxError, parse_condition
from domain.delivery import ChannelError, parse_channel
from domain.retry import RetryPolicy
from domain.schedules import Schedule

Overlap = Literal["skip", "buffer_one", "allow_all", "cancel_other"]
JobStatus = Literal["active", "paused", "completed", "failed"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Delivery(_Strict):
    """Where a run's result goes."""

    channel: str = Field(
        max_length=2100,
        description="`<provider>:<target>`: `slack:#alerts`, `webhook:https://…`, "
        "`email:ops@example.com`, or a notification service scheme (`discord:ID/TOKEN`, "
        "`tgram:BOT/CHAT`, `ntfy:topic`…).",
    )
    format: Literal["markdown", "text", "json"] = "markdown"

    @field_validator("channel")
    @classmethod
    def _channel_shape(cls, value: str) -> str:
        try:
            parse_channel(value)
        except ChannelError as exc:
            raise ValueError(str(exc)) from None
        return value


class Condition(_Strict):
    """A safe expression gating the run (before_run) or its delivery (after_run)."""

    type: Literal["expression"] = "expression"
    expression: str = Field(
        min_length=1,
        max_length=2000,
        description="e.g. `price_change_pct > 0.05 and not muted`; see README, Conditions.",
    )
    stage: Literal["after_run", "before_run"] = "after_run"

    @field_validator("expression")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            parse_condition(value)
        except ConditionSyntaxError as exc:
            raise ValueError(str(exc)) from None
        return value


class _JobFields(_Strict):
    delivery: Delivery | None = None
    condition: Condition | None = None
    retry: RetryPolicy | None = None


class JobCreate(_JobFields):
    """Body of ``POST /jobs``."""

    name: str = Field(min_length=1, max_length=200)
    goal: str = Field(min_length=1, max_length=20_000)
    agent_id: str = Field(min_length=1, max_length=200)
    schedule: Schedule
    timeout_seconds: int = Field(1800, ge=1, le=7 * 86_400, description="Per attempt.")
    overlap: Overlap = "skip"
    enabled: bool = True
    max_consecutive_failures: int = Field(
        5, ge=0, le=1000, description="Failed runs in a row before the job pauses; 0: never."
    )


class JobUpdate(_JobFields):
    """Body of ``PUT /jobs/{id}``: only the fields sent change."""

    name: str | None = Field(None, min_length=1, max_length=200)
    goal: str | None = Field(None, min_length=1, max_length=20_000)
    agent_id: str | None = Field(None, min_length=1, max_length=200)
    schedule: Schedule | None = None
    timeout_seconds: int | None = Field(None, ge=1, le=7 * 86_400)
    overlap: Overlap | None = None
    enabled: bool | None = None
    max_consecutive_failures: int | None = Field(None, ge=0, le=1000)


class JobPublic(BaseModel):
    """A job as the API shows it."""

    id: str
    name: str
    goal: str
    agent_id: str
    schedule: dict[str, Any]
    status: JobStatus
    delivery: Delivery | None
    condition: Condition | None
    retry: RetryPolicy | None
    timeout_seconds: int
    overlap: Overlap
    max_consecutive_failures: int
    consecutive_failures: int
    paused_reason: str | None
    next_run_at: datetime | None
    last_run_at: datetime | None
    run_count: int
    created_at: datetime
    updated_at: datetime
    temporal_ui_url: str


class JobsPublic(BaseModel):
    """A page of jobs and the total that match the filter."""

    jobs: list[JobPublic]
    count: int


class TriggerAccepted(BaseModel):
    """Answer of ``POST /jobs/{id}/trigger``."""

    run_id: str
    job_id: str
