"""Run models: the public view of one job-run workflow execution."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

RunStatus = Literal["running", "completed", "failed", "cancelled", "timed_out", "skipped"]


class TemporalRef(BaseModel):
    """Where the run lives in Temporal."""

    workflow_id: str
    run_id: str | None


class AttemptErrorPublic(BaseModel):
    """Why one attempt failed."""

    attempt: int
    at: datetime
    kind: str
    error: str
    agent_id: str | None = Field(
        None, description="The agent this attempt called; null in runs recorded before it was kept."
    )


class AttemptDispatchesPublic(BaseModel):
    """How many times one attempt reached a worker; more than 1 means a worker was lost (or
    Temporal restarted) mid-call and the agent may have been called again, with the same
    ``idempotency_key``."""

    attempt: int
    dispatches: int


class UsagePublic(BaseModel):
    """What the run's agent reported using (null parts: not reported)."""

    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    cost_usd: float | None


class RunPublic(BaseModel):
    """A run as the API shows it."""

    id: str
    job_id: str
    chain_id: str | None
    trigger: Literal["schedule", "manual", "chain", "backfill", "hook"]
    status: RunStatus
    agent_id: str | None = Field(
        None,
        description="The agent of the run's last attempt: the one that answered a completed "
        "run (the job's `agent_id` or one of its `fallback_agent_ids`); null while running "
        "and when no agent was called.",
    )
    scheduled_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    attempts: int
    attempt_errors: list[AttemptErrorPublic]
    attempt_dispatches: list[AttemptDispatchesPublic]
    output: str | None
    data: dict[str, Any] | None
    error: str | None
    condition_result: dict[str, Any] | None
    delivery: dict[str, Any] | None
    usage: UsagePublic | None = Field(
        description="Tokens and cost the agent reported for this run; null if it reported none."
    )
    skip_reason: str | None = Field(
        description="Why a skipped run was not started, e.g. `budget: max_runs_per_day 3 "
        "reached for 2026-12-03 (America/New_York)`; null otherwise."
    )
    truncated: bool = Field(
        description="The run keeps less than the agent answered: its output was cut or its "
        "data dropped (`answer_notes` says which and why)."
    )
    answer_notes: list[str] = Field(
        description="What agent-scheduler changed in the agent's answer to keep it: "
        "characters no index can store replaced, the output cut, the data dropped; [] if none."
    )
    trace_id: str | None = Field(
        description="The OpenTelemetry trace of this run (32 hex digits); null when traces are "
        "off (docs/operations.md, Traces)."
    )
    input: Any = Field(
        None,
        description="What the run was started with: a hook delivery's body (its JSON, or its "
        "text if it is not JSON; docs/api.md, Hooks), which the agent got as `input`; null "
        "for other runs.",
    )
    temporal: TemporalRef
    temporal_ui_url: str


class RunsPublic(BaseModel):
    """A page of runs and the total that match the filter."""

    runs: list[RunPublic]
    count: int


class CancelAccepted(BaseModel):
    """Answer of a run cancellation: the run ends ``cancelled`` shortly."""

    run_id: str
    job_id: str
    status: Literal["cancelling"] = "cancelling"


class RedeliverAccepted(BaseModel):
    """Answer of ``POST …/redeliver``: the run's ``delivery`` shows the outcome shortly."""

    run_id: str
    job_id: str
    status: Literal["redelivering"] = "redelivering"
