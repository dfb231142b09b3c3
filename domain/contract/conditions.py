"""The condition activity's payloads: a job's condition for one run in, the verdict out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from domain.conditions import Stage


class ConditionInput(BaseModel):
    """Evaluate a job's condition for one run."""

    expression: str
    stage: Stage
    job_id: str
    run_id: str
    timezone: str = "UTC"
    now: datetime
    output: str | None = None
    data: dict[str, Any] | None = None
    # The agent's data was dropped (docs/api.md, "Run object"): an after_run condition is not
    # evaluated, rather than decided on an empty object.
    data_cut: bool = False


class ConditionResult(BaseModel):
    """What the run records as ``condition_result``."""

    expression: str
    stage: Stage
    value: bool
    error: str | None = None
