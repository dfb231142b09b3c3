"""Delivery's payloads: the delivery activity's, the redelivery workflow's and its activities'.

The id of a run's redelivery workflow is here too: the API starts it, the workflow is keyed by it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from domain.delivery import DEFAULT_SIMILARITY_THRESHOLD, Format


class DeliveryRun(BaseModel):
    """The run being delivered, as the message and the webhook body show it."""

    run_id: str
    job_id: str
    job_name: str
    owner: str
    status: str
    trigger: str | None = None
    output: str | None = None
    data: dict[str, Any] | None = None
    error: str | None = None
    condition_result: dict[str, Any] | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @classmethod
    def of_rows(cls, run: Any, job: Any) -> DeliveryRun:
        """The run as recorded in the index (a run row and its job's row), to deliver again."""
        return cls(
            job_id=job.id,
            job_name=job.name,
            owner=job.owner,
            run_id=run.id,
            **{name: getattr(run, name) for name in _RECORDED},
        )


# The fields a run row holds under the same names.
_RECORDED = (
    "status",
    "trigger",
    "output",
    "data",
    "error",
    "condition_result",
    "started_at",
    "completed_at",
)


class DeliverInput(BaseModel):
    """Deliver one run to one channel; ``delivery_id`` is the idempotency key receivers see."""

    delivery_id: str
    channel: str
    format: Format = "markdown"
    run: DeliveryRun
    # Only news: skip when the output equals the job's last delivered one (redeliveries: False);
    # "semantic": or when it is ``similarity_threshold`` similar to one of its last delivered.
    only_if_changed: bool | Literal["semantic"] = False
    similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD


class DeliverResult(BaseModel):
    """A delivery that went through: how many messages it took, whether it was cut."""

    messages: int = 1
    truncated: bool = False
    # Set when nothing was sent on purpose (a silent answer, no news): why.
    skipped: str | None = None
    # Kept in the dev outbox instead of sent (the provider is not configured).
    outbox: bool = False
    # Semantic only-news: how the output was compared (the run's ``delivery.comparison``).
    comparison: dict[str, Any] | None = None


class RedeliverInput(BaseModel):
    """Deliver a finished run again, to the job's current channel."""

    run_id: str
    job_id: str
    owner: str


class RedeliveryPlan(BaseModel):
    """What to redeliver, or why there is nothing to."""

    deliver: DeliverInput | None = None
    reason: str | None = None


class DeliveryRecord(BaseModel):
    """Write a run's ``delivery`` field."""

    run_id: str
    delivery: dict[str, Any]


def redeliver_workflow_id(run_id: str) -> str:
    """The id of a run's redelivery workflow (one in flight at a time)."""
    return f"{run_id}-redeliver"
