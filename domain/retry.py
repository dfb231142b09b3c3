"""The user's retry policy for the agent call (docs/api.md, "Jobs") and the delays it prescribes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.inputs import JsonInt, JsonNumber

# How many times Temporal dispatches one attempt's agent call when workers are lost under it
# (the job-run workflow's retry of the activity, not the job's policy).
INFRA_DISPATCHES = 10
# What a run does after its agent answers, at most: conditions, a delivery with all of its
# retries (5 minutes each), the index writes.
AFTER_AGENT_SECONDS = 3600


# Failures of the agent's provider that another agent may not share (docs/api.md, "Fallback
# agents"): no answer in time, unreachable, or an HTTP 429 or 5xx (the only retryable status).
TRANSIENT_KINDS = frozenset({"timeout", "connection", "http_status"})


def is_transient(kind: str, retryable: bool) -> bool:
    """Whether a failed attempt moves the next one to the job's next fallback agent."""
    return retryable and kind in TRANSIENT_KINDS


class RetryPolicy(BaseModel):
    """Attempts of the agent call and the delays between them."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: JsonInt = Field(1, ge=1, le=100, description="Total attempts, first included.")
    strategy: Literal["exponential", "linear", "fixed"] = "exponential"
    base_delay: JsonNumber = Field(60, ge=0, le=86_400, description="Seconds.")
    max_delay: JsonNumber | None = Field(None, ge=0, le=604_800, description="Cap, in seconds.")

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one."""
        if self.strategy == "exponential":
            delay = self.base_delay * 2 ** (attempt - 1)
        elif self.strategy == "linear":
            delay = self.base_delay * attempt
        else:
            delay = self.base_delay
        return float(delay if self.max_delay is None else min(delay, self.max_delay))


def longest_run_seconds(policy: RetryPolicy, timeout_seconds: int) -> float:
    """How long a run of a job can take at most: every attempt dispatched ``INFRA_DISPATCHES``
    times, each for its whole timeout (and the 30 s the workflow adds), every delay between
    attempts, then ``AFTER_AGENT_SECONDS``. A run still running past it is stuck."""
    per_attempt = INFRA_DISPATCHES * (timeout_seconds + 30 + 10)
    delays = sum(policy.delay_after(attempt) for attempt in range(1, policy.max_attempts))
    return policy.max_attempts * per_attempt + delays + AFTER_AGENT_SECONDS
