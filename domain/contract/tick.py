"""The tick's payloads: the workflow's input (set on its schedule) and its one activity's."""

from __future__ import annotations

from pydantic import BaseModel


class TickInput(BaseModel):
    """Input of the tick workflow (set on its schedule)."""

    grace_seconds: int = 15


class ReconcileInput(BaseModel):
    """Input of one reconciliation."""

    workflow_id: str
    grace_seconds: int = 15


class TickResult(BaseModel):
    """What one tick checked and repaired (also the tick workflow's result)."""

    jobs_checked: int = 0
    schedules_checked: int = 0
    runs_checked: int = 0
    # Only kinds with at least one repair.
    repairs: dict[str, int] = {}
    next_run_at_refreshed: int = 0
    budget_reopened: int = 0
