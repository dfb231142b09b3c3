"""Aggregate queries for stats: every number comes from one SQL aggregate over an index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from api.index.models import Job, Run

# Runs whose outcome the agent decided; cancelled and skipped runs are neither success nor failure.
OUTCOMES = ("completed", "failed", "timed_out")


@dataclass(frozen=True)
class Outcomes:
    """Finished runs with an outcome: how many, how many completed, their mean duration."""

    finished: int
    completed: int
    mean_duration: float | None


async def jobs_by_status(session: AsyncSession, *, owner: str) -> dict[str, int]:
    """The owner's live jobs counted by status (only statuses that occur)."""
    rows = await session.execute(
        select(Job.status, sa.func.count())
        .where(col(Job.owner) == owner, col(Job.deleted_at).is_(None))
        .group_by(col(Job.status))
    )
    return {str(status): int(n) for status, n in rows.all()}


# count, completed, mean duration: the columns an ``Outcomes`` is read from.
_OUTCOME_COLUMNS = (
    sa.func.count(),
    sa.func.coalesce(sa.func.sum(sa.case((col(Run.status) == "completed", 1), else_=0)), 0),
    sa.func.avg(Run.duration_seconds),
)


def _outcomes(row: Any) -> Outcomes:
    finished, completed, mean = row
    return Outcomes(
        finished=int(finished),
        completed=int(completed),
        mean_duration=None if mean is None else float(mean),
    )


async def outcomes(session: AsyncSession, *, job_id: str) -> Outcomes:
    """Outcome counts and mean duration of one job's finished runs."""
    row = (
        await session.execute(
            select(*_OUTCOME_COLUMNS).where(
                col(Run.job_id) == job_id, col(Run.status).in_(OUTCOMES)
            )
        )
    ).one()
    return _outcomes(row)


async def owner_runs(
    session: AsyncSession, *, owner: str, started_since: datetime, finished_since: datetime
) -> tuple[int, Outcomes]:
    """In one round trip: how many of the owner's runs started at or after ``started_since``,
    and the outcomes of those finished at or after ``finished_since``."""
    started = (
        select(sa.func.count())
        .select_from(Run)
        .where(col(Run.owner) == owner, col(Run.started_at) >= started_since)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(started, *_OUTCOME_COLUMNS).where(
                col(Run.owner) == owner,
                col(Run.completed_at) >= finished_since,
                col(Run.status).in_(OUTCOMES),
            )
        )
    ).one()
    return int(row[0]), _outcomes(row[1:])


async def runs_by_status(session: AsyncSession, *, job_id: str) -> dict[str, int]:
    """The job's runs counted by status."""
    rows = await session.execute(
        select(Run.status, sa.func.count())
        .where(col(Run.job_id) == job_id)
        .group_by(col(Run.status))
    )
    return {str(status): int(n) for status, n in rows.all()}


async def duration_percentiles(
    session: AsyncSession, *, job_id: str, fractions: tuple[float, ...]
) -> list[float | None]:
    """Percentiles of the job's finished-run durations, interpolated between the closest ranks
    (PostgreSQL's ``percentile_cont``), read with ``ORDER BY … OFFSET`` so SQLite agrees."""
    where = [
        col(Run.job_id) == job_id,
        col(Run.status).in_(OUTCOMES),
        col(Run.duration_seconds).is_not(None),
    ]
    n = int(
        (await session.execute(select(sa.func.count()).select_from(Run).where(*where))).scalar_one()
    )
    if n == 0:
        return [None for _ in fractions]
    found: list[float | None] = []
    for fraction in fractions:
        position = fraction * (n - 1)
        low = int(position)
        rows = await session.execute(
            select(Run.duration_seconds)
            .where(*where)
            .order_by(col(Run.duration_seconds))
            .offset(low)
            .limit(2)
        )
        values = [float(v) for v in rows.scalars()]
        upper = values[1] if len(values) > 1 else values[0]
        found.append(values[0] + (upper - values[0]) * (position - low))
    return found


async def last_run(session: AsyncSession, *, job_id: str) -> Run | None:
    """The job's most recently started run."""
    rows = await session.execute(
        select(Run)
        .where(col(Run.job_id) == job_id)
        .order_by(col(Run.started_at).desc(), col(Run.id).desc())
        .limit(1)
    )
    return rows.scalar_one_or_none()


async def runs_per_period(
    session: AsyncSession, *, job_id: str, boundaries: list[datetime]
) -> list[int]:
    """How many of the job's runs started in each ``[boundaries[i], boundaries[i+1])``."""
    started = col(Run.started_at)
    period = sa.case(
        *[(started < end, i) for i, end in enumerate(boundaries[1:])], else_=None
    ).label("period")
    rows = await session.execute(
        select(period, sa.func.count())
        .where(col(Run.job_id) == job_id, started >= boundaries[0], started < boundaries[-1])
        .group_by(sa.literal_column("period"))
    )
    counts = [0] * (len(boundaries) - 1)
    for index, n in rows.all():
        counts[int(index)] = int(n)
    return counts
