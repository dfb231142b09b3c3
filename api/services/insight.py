"""Stats, heatmap and suggestions for one owner, computed from index aggregates."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import get_args
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import Invalid, NotFound
from api.core.index import activity as activity_store
from api.core.index import incidents as incidents_store
from api.core.index import jobs as jobs_store
from api.core.index import runs as runs_store
from api.core.index import stats as store
from api.core.index.models import Job
from api.schemas.insight import (
    BudgetUse,
    CronOut,
    DayCount,
    Durations,
    Heatmap,
    JobStats,
    LastRun,
    Stats,
    SuggestionOut,
    SuggestionsOut,
    UsageTotals,
)
from api.schemas.jobs import JobStatus
from domain.budgets import Budget, windows
from domain.localtime import (
    DAY_NAMES,
    day_boundaries,
    local_midnight,
    offset_changes,
)
from domain.suggestions import suggest
from domain.timezones import TimezoneError, load_timezone

JOB_STATS_DAYS = 30


def zone_of(name: str) -> ZoneInfo:
    """The zone named in ``?timezone=``, or a 422 naming the field."""
    try:
        return load_timezone(name)
    except TimezoneError as error:
        raise Invalid.field("timezone", str(error)) from None


def _rate(completed: int, finished: int) -> float | None:
    return round(completed / finished, 4) if finished else None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


async def stats(
    session: AsyncSession, *, owner: str, timezone: str, days: int, now: datetime
) -> Stats:
    """The owner's stats: today is the local day in ``timezone``; rates cover ``days`` days."""
    zone = zone_of(timezone)
    midnight = local_midnight(now.astimezone(zone).date(), zone)
    totals = await store.owner_totals(
        session,
        owner=owner,
        statuses=get_args(JobStatus),
        started_since=midnight,
        finished_since=now - timedelta(days=days),
    )
    by_status, outcomes = totals.jobs_by_status, totals.outcomes
    return Stats(
        total_jobs=sum(by_status.values()),
        active_jobs=by_status.get("active", 0),
        total_runs_today=totals.started,
        success_rate=_rate(outcomes.completed, outcomes.finished),
        avg_duration_seconds=_seconds(outcomes.mean_duration),
        jobs_by_status=dict(sorted(by_status.items())),
        timezone=timezone,
        days=days,
        open_incidents=await incidents_store.count_open(session, owner=owner),
    )


async def job_stats(
    session: AsyncSession, *, owner: str, job_id: str, timezone: str, now: datetime
) -> JobStats:
    """One job's stats; its runs per day are counted in local days of ``timezone``."""
    zone = zone_of(timezone)
    job = await jobs_store.get_job(session, owner=owner, job_id=job_id)
    if job is None:
        raise NotFound(f"Job {job_id} not found")
    by_status = await store.runs_by_status(session, job_id=job.id)
    outcomes = await store.outcomes(session, job_id=job.id)
    p50, p95 = await store.duration_percentiles(session, job_id=job.id, fractions=(0.5, 0.95))
    last = await store.last_run(session, job_id=job.id)
    boundaries = day_boundaries(now.astimezone(zone).date(), JOB_STATS_DAYS, zone)
    per_day = await store.runs_per_period(session, job_id=job.id, boundaries=boundaries)
    return JobStats(
        job_id=job.id,
        total_runs=sum(by_status.values()),
        runs_by_status=dict(sorted(by_status.items())),
        success_rate=_rate(outcomes.completed, outcomes.finished),
        duration_seconds=Durations(
            mean=_seconds(outcomes.mean_duration), p50=_seconds(p50), p95=_seconds(p95)
        ),
        last_run=None
        if last is None
        else LastRun(
            id=last.id,
            status=last.status,
            started_at=last.started_at.astimezone(zone) if last.started_at else None,
            completed_at=last.completed_at.astimezone(zone) if last.completed_at else None,
        ),
        consecutive_failures=job.consecutive_failures,
        runs_per_day=[
            DayCount(date=start.astimezone(zone).date(), count=n)
            for start, n in zip(boundaries, per_day, strict=False)
        ],
        timezone=timezone,
        usage=await _usage(session, job_id=job.id),
        budget=await _budget_use(session, job=job, now=now),
    )


async def _usage(session: AsyncSession, *, job_id: str) -> UsageTotals:
    totals = await runs_store.usage_totals(session, job_id=job_id)
    input_tokens, output_tokens = int(totals.input_tokens or 0), int(totals.output_tokens or 0)
    return UsageTotals(
        runs=int(totals.runs),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
        cost_usd=round(float(totals.cost_usd or 0.0), 6),
    )


async def _budget_use(session: AsyncSession, *, job: Job, now: datetime) -> BudgetUse | None:
    """What the job's current budget windows used, counted as a run starting now would."""
    if not job.budget:
        return None
    budget = Budget.model_validate(job.budget)
    zone = load_timezone(job.timezone)
    window = windows(now, zone)
    conn = await session.connection()
    runs_today, tokens_today, cost = await runs_store.budget_spent(
        conn,
        job_id=job.id,
        run_id="",
        at=now,
        day=(window.day_start, window.day_end),
        month=(window.month_start, window.month_end),
    )
    return BudgetUse(
        timezone=job.timezone,
        day=window.day,
        month=window.month,
        runs_today=runs_today,
        tokens_today=tokens_today,
        cost_usd_this_month=round(cost, 6),
        **budget.model_dump(),
    )


async def heatmap(
    session: AsyncSession, *, owner: str, timezone: str, days: int, now: datetime
) -> Heatmap:
    """Events per local weekday and hour over the last ``days`` local days (today included)."""
    zone = zone_of(timezone)
    since = local_midnight(now.astimezone(zone).date() - timedelta(days=days - 1), zone)
    cells = await activity_store.weekly_cells(
        session, owner=owner, start=since, end=now, offsets=offset_changes(zone, since, now)
    )
    grid = [[0] * 24 for _ in range(7)]
    for cell, count in cells:
        grid[cell // 24][cell % 24] += count
    return Heatmap(
        timezone=timezone,
        days=list(DAY_NAMES),
        hours=list(range(24)),
        grid=grid,
        max=max(max(row) for row in grid),
        total=sum(sum(row) for row in grid),
        since=since.astimezone(zone),
    )


async def suggestions(
    session: AsyncSession, *, owner: str, timezone: str, days: int, now: datetime
) -> SuggestionsOut:
    """Suggested times from the owner's activity over the last ``days`` local days."""
    zone = zone_of(timezone)
    window = day_boundaries(now.astimezone(zone).date(), days, zone)
    times = await activity_store.event_times(session, owner=owner, since=window[0])
    found = suggest(
        [t.astimezone(zone) for t in times if t <= now],
        [start.astimezone(zone).date() for start in window[:-1]],
    )
    return SuggestionsOut(
        suggestions=[
            SuggestionOut(
                time=s.time,
                days=s.days,
                reason=s.reason,
                schedule=CronOut(expression=s.cron, timezone=timezone),
            )
            for s in found.suggestions
        ],
        note=found.note,
        timezone=timezone,
        days=days,
    )
