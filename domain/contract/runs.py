"""The job run's payloads: the workflow's input and result, and its index activities'."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ValidationInfo, field_validator

from domain.budgets import Budget, Usage
from domain.conditions import Condition
from domain.delivery import Delivery
from domain.retry import RetryPolicy

# ``backfill``: started by the job's schedule for a backfill (the recorder tells it apart);
# ``hook``: started by a delivery to one of the job's hooks (docs/api.md, "Hooks").
Trigger = Literal["schedule", "manual", "chain", "backfill", "hook"]
RunStatus = Literal["running", "completed", "failed", "cancelled", "timed_out", "skipped"]


class JobSnapshot(BaseModel):
    """A job as it is when a run starts: edits apply from the next run."""

    job_id: str
    owner: str
    name: str
    goal: str
    agent_id: str
    timezone: str
    status: str
    timeout_seconds: int
    max_consecutive_failures: int
    retry: RetryPolicy | None = None
    condition: Condition | None = None
    delivery: Delivery | None = None
    budget: Budget | None = None
    # Agents a transient provider error moves the next attempt to, in order (docs/api.md,
    # "Fallback agents"); None or [] for none.
    fallback_agent_ids: list[str] | None = None

    @field_validator("retry", "condition", "delivery", "budget", mode="before")
    @classmethod
    def _as_stored(cls, value: Any, info: ValidationInfo) -> Any:
        """Read a job's retry, condition and delivery as the index stores them (dicts that were
        validated when the job was saved) without validating them again: a field since removed
        is ignored, a rule since tightened does not fail a run, and no channel check (Apprise)
        runs inside a workflow. An empty dict is no setting, as it always was."""
        if not isinstance(value, Mapping):
            return value
        if not value:
            return None
        model = _STORED[info.field_name or ""]
        return model.model_construct(**{k: v for k, v in value.items() if k in model.model_fields})

    @classmethod
    def of(cls, job: Mapping[str, Any]) -> JobSnapshot:
        """The snapshot of a job row (a mapping of its columns)."""
        return cls.model_validate({**job, "job_id": job["id"]})


_STORED: dict[str, type[BaseModel]] = {
    "retry": RetryPolicy,
    "condition": Condition,
    "delivery": Delivery,
    "budget": Budget,
}


class JobRunInput(BaseModel):
    """Start of a job run; the job itself is loaded at fire time."""

    job_id: str
    owner: str
    trigger: Trigger = "schedule"
    chain_id: str | None = None
    context: dict[str, Any] | None = None
    # Set by a trigger, which already recorded the run and read the job at fire time.
    job: JobSnapshot | None = None
    # What the run was started with (a hook delivery's body): the agent's ``input``.
    input: Any = None


class JobRunResult(BaseModel):
    """What a job run ended with."""

    status: RunStatus
    output: str | None = None
    data: dict[str, Any] | None = None
    error: str | None = None
    usage: Usage | None = None
    # What the run keeps differs from the agent's answer (activities/agents/answers.py ``kept``).
    cut: list[str] = []
    answer_notes: list[str] = []


class RunStart(BaseModel):
    """Record that a run started (idempotent); answers the job as it is now."""

    run_id: str
    temporal_run_id: str
    job_id: str
    owner: str
    trigger: Trigger
    chain_id: str | None = None
    scheduled_at: datetime | None = None
    started_at: datetime
    # Set by the activity from its span (docs/operations.md, "Traces"); never by the workflow.
    trace_id: str | None = None
    # The run's input (a hook delivery's body), recorded on the run.
    input: Any = None


class RunStarted(BaseModel):
    """The job to run, or None when it was deleted meanwhile."""

    job: JobSnapshot | None
    # The trigger recorded: ``backfill`` for a schedule's run of a backfill (None: as started).
    trigger: Trigger | None = None


class AttemptError(BaseModel):
    """Why one attempt of the agent call failed."""

    attempt: int
    at: datetime
    kind: str
    error: str
    # The agent this attempt called (None in runs recorded before fallback agents).
    agent_id: str | None = None


class AttemptDispatches(BaseModel):
    """How many times Temporal dispatched one attempt of the agent call (more than 1: a worker
    was lost or Temporal restarted mid-call, and the agent may have been called again)."""

    attempt: int
    dispatches: int


class RunFinish(BaseModel):
    """Record how a run ended and update its job (counters, auto-pause, one-off status)."""

    run_id: str
    temporal_run_id: str
    job_id: str
    status: RunStatus
    completed_at: datetime
    attempts: int = 0
    attempt_errors: list[AttemptError] = []
    attempt_dispatches: list[AttemptDispatches] = []
    output: str | None = None
    data: dict[str, Any] | None = None
    error: str | None = None
    condition_result: dict[str, Any] | None = None
    delivery: dict[str, Any] | None = None
    usage: Usage | None = None
    # Why a skipped run was not started (a budget), else None.
    skip_reason: str | None = None
    cut: list[str] = []
    answer_notes: list[str] = []
    # The agent of the last attempt: the one that answered a completed run (None: not called).
    agent_id: str | None = None


class RunFinished(BaseModel):
    """What recording the end changed: whether this call ended the run, and the job's change."""

    # False when the run was already recorded (a retry, or the tick after the worker).
    recorded: bool = False
    job_status: str | None = None
    auto_paused: bool = False


class BudgetCheck(BaseModel):
    """May this run start under its job's budget? ``at`` is the run's start (its windows)."""

    run_id: str
    job_id: str
    timezone: str
    budget: Budget
    at: datetime


class BudgetVerdict(BaseModel):
    """Whether the run may start; when not, why (the job is paused with that reason)."""

    allowed: bool = True
    reason: str | None = None
    paused: bool = False
