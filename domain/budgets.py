"""Budgets of a job and the usage its runs report (pure rules, no I/O).

A job's ``budget`` caps its runs per local day, its tokens per local day and its cost per local
month, all in the job's time zone. It is checked when a run starts, against the runs that
started earlier in the same window: a run that would start past a limit is not started
(``skipped``), and the job pauses until the window rolls over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from domain.inputs import JsonInt, JsonNumber
from domain.localtime import local_midnight

BUDGET_REASON_PREFIX = "budget: "


class Budget(BaseModel):
    """Limits of one job; a limit left out (or null) is no limit."""

    model_config = ConfigDict(extra="forbid")

    max_tokens_per_day: JsonInt | None = Field(
        None,
        ge=1,
        le=10**15,
        description="Input + output tokens of the runs started on one local day.",
    )
    max_runs_per_day: JsonInt | None = Field(
        None, ge=1, le=1_000_000, description="Runs started on one local day (skipped ones aside)."
    )
    max_cost_usd_per_month: JsonNumber | None = Field(
        None, gt=0, le=1e12, description="US dollars the runs started in one local month cost."
    )

    def is_empty(self) -> bool:
        """Whether no limit is set."""
        return (
            self.max_tokens_per_day is None
            and self.max_runs_per_day is None
            and self.max_cost_usd_per_month is None
        )


class Usage(BaseModel):
    """What one run's agent reported it used; every part is optional."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None

    @property
    def total_tokens(self) -> int | None:
        """Input plus output tokens, or None when neither is known."""
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)


@dataclass(frozen=True)
class Windows:
    """The local day and month an instant falls in, as UTC bounds ``[start, end)``."""

    day: date
    day_start: datetime
    day_end: datetime
    month_start: datetime
    month_end: datetime

    @property
    def month(self) -> str:
        """The month as ``YYYY-MM``."""
        return self.day.strftime("%Y-%m")


def windows(at: datetime, zone: ZoneInfo) -> Windows:
    """The budget windows (local day, local month in ``zone``) that ``at`` falls in."""
    day = at.astimezone(zone).date()
    first = day.replace(day=1)
    following = (
        first.replace(year=first.year + 1, month=1)
        if first.month == 12
        else first.replace(month=first.month + 1)
    )
    return Windows(
        day=day,
        day_start=local_midnight(day, zone),
        day_end=local_midnight(date.fromordinal(day.toordinal() + 1), zone),
        month_start=local_midnight(first, zone),
        month_end=local_midnight(following, zone),
    )


@dataclass(frozen=True)
class Spent:
    """What a job used in the windows of a run about to start (the run itself excluded)."""

    runs_today: int
    tokens_today: int
    cost_usd_this_month: float


@dataclass(frozen=True)
class Exceeded:
    """The first limit a run would start past: why (for ``paused_reason``) and when the window
    it belongs to ends (the job reopens then)."""

    limit: str
    reason: str
    reopens_at: datetime


def exceeded(budget: Budget, spent: Spent, window: Windows, zone: ZoneInfo) -> Exceeded | None:
    """The first limit of ``budget`` that ``spent`` reached, or None (the run may start)."""
    where = f"({zone.key})"
    if budget.max_runs_per_day is not None and spent.runs_today >= budget.max_runs_per_day:
        return Exceeded(
            "max_runs_per_day",
            f"{BUDGET_REASON_PREFIX}max_runs_per_day {budget.max_runs_per_day} reached for "
            f"{window.day.isoformat()} {where}",
            window.day_end,
        )
    if budget.max_tokens_per_day is not None and spent.tokens_today >= budget.max_tokens_per_day:
        return Exceeded(
            "max_tokens_per_day",
            f"{BUDGET_REASON_PREFIX}max_tokens_per_day {budget.max_tokens_per_day} reached for "
            f"{window.day.isoformat()} {where} ({spent.tokens_today} used)",
            window.day_end,
        )
    if (
        budget.max_cost_usd_per_month is not None
        and spent.cost_usd_this_month >= budget.max_cost_usd_per_month
    ):
        return Exceeded(
            "max_cost_usd_per_month",
            f"{BUDGET_REASON_PREFIX}max_cost_usd_per_month {budget.max_cost_usd_per_month:g} "
            f"reached for {window.month} {where} ({spent.cost_usd_this_month:.4f} used)",
            window.month_end,
        )
    return None
