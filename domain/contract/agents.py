"""The agent call's payloads: one attempt of one run in, the agent's answer out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from domain.budgets import Usage


class AgentCallInput(BaseModel):
    """One attempt of one run, as the agent sees it."""

    run_id: str
    job_id: str
    agent_id: str
    goal: str
    attempt: int
    scheduled_at: datetime | None = None
    context: dict[str, Any] = {}
    # What the run was started with (a hook delivery's body); sent only when there is one.
    input: Any = None
    timeout_seconds: int
    # Which execution of this attempt this is (Temporal's activity attempt); set by the worker.
    dispatch: int = 1

    @property
    def idempotency_key(self) -> str:
        """The same for every dispatch of one attempt of one run, different for any other."""
        return f"{self.run_id}/attempt/{self.attempt}"

    def request(self) -> dict[str, Any]:
        """The JSON document http and command agents receive."""
        left_out = {"timeout_seconds"} | ({"input"} if self.input is None else set())
        return self.model_dump(mode="json", exclude=left_out) | {
            "idempotency_key": self.idempotency_key
        }


class AgentCallResult(BaseModel):
    """What the agent answered, and which dispatch of the attempt got the answer."""

    output: str
    data: dict[str, Any] = {}
    dispatch: int = 1
    usage: Usage | None = None
    # What the run keeps differs from the answer: the parts cut ("output", "data") and, for
    # the run's ``answer_notes``, what was changed and why.
    cut: list[str] = []
    notes: list[str] = []
