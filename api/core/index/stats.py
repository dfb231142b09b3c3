"""Aggregate queries for stats: every number comes from one SQL aggregate over an index."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from api.core.index.models import Run, job_counts, run_hours, runs

# Runs whose outcome the agent decided; cancelled and skipped runs are neither success nor failure.
OUTCOMES = ("completed", "failed", "timed_out")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Outcomes:
    """Finished runs with an outcome: how many, how many completed, their mean duration."""

    finished: int
    completed: int
    mean_duration: float | None


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


@dataclass(frozen=True)
class OwnerTotals:
    """An owner's live jobs by status (only statuses that occur), runs started since a given
    instant, and the outcomes of the runs finished since another."""

    jobs_by_status: dict[str, int]
    started: int
    outcomes: Outcomes


@functools.cache
def _owner_totals(statuses: tuple[str, ...]) -> sa.Select[Any]:
    owner: sa.BindParameter[str] = sa.bindparam("owner")
    jobs_in = [
        sa.select(job_counts.c.count)
        .where(job_counts.c.owner == owner, job_counts.c.status == status)
        .scalar_subquery()
        for status in statuses
    ]
    started = (
        sa.select(sa.func.count())
        .where(runs.c.owner == owner, runs.c.started_at >= sa.bindparam("started_since"))
        .scalar_subquery()
    )
    # finished, completed, durations (how many have one), duration sum: from the runs that
    # finished in the partial hour before the first whole hour, and from the whole hours.
    partial = sa.select(
        sa.func.count(),
        sa.func.coalesce(sa.func.sum(sa.case((runs.c.status == "completed", 1), else_=0)), 0),
        sa.func.count(runs.c.duration_seconds),
        sa.func.coalesce(sa.func.sum(runs.c.duration_seconds), 0.0),
    ).where(
        runs.c.owner == owner,
        runs.c.completed_at >= sa.bindparam("finished_since"),
        runs.c.completed_at < sa.bindparam("first_hour_at"),
        runs.c.status.in_(OUTCOMES),
    )
    hours = sa.select(
        *[
            sa.func.coalesce(sa.func.sum(column), 0)
            for column in (run_hours.c.finished, run_hours.c.completed, run_hours.c.durations)
        ],
        sa.func.coalesce(sa.func.sum(run_hours.c.duration_sum), 0.0),
    ).where(run_hours.c.owner == owner, run_hours.c.hour >= sa.bindparam("first_hour"))
    first, second = partial.subquery(), hours.subquery()  # one row each
    return sa.select(*jobs_in, started, *first.c, *second.c).select_from(
        first.join(second, sa.true())
    )


async def owner_totals(
    session: AsyncSession,
    *,
    owner: str,
    statuses: tuple[str, ...],
    started_since: datetime,
    finished_since: datetime,
) -> OwnerTotals:
    """In one round trip: the owner's live jobs in each of ``statuses`` (``job_counts``), how
    many of their runs started at or after ``started_since``, and the outcomes of those
    finished at or after ``finished_since``.

    The outcomes are summed from the hourly totals (``run_hours``) from the first whole UTC hour
    on, and counted from the runs themselves before it, so the answer is exact to the instant.
    """
    first_hour = -((EPOCH - finished_since) // HOUR)  # the first whole hour, rounded up
    row = (
        await session.execute(
            _owner_totals(statuses),
            {
                "owner": owner,
                "started_since": started_since,
                "finished_since": finished_since,
                "first_hour_at": EPOCH + first_hour * HOUR,
                "first_hour": first_hour,
            },
        )
    ).one()
    jobs_in, (started, *totals) = row[: len(statuses)], row[len(statuses) :]
    # The partial hour's four totals, then the whole hours' four.
    finished, completed, durations, duration_sum = (
        a + b for a, b in zip(totals[:4], totals[4:], strict=True)
    )
    return OwnerTotals(
        jobs_by_status={s: int(n) for s, n in zip(statuses, jobs_in, strict=True) if n},
        started=int(started),
        outcomes=Outcomes(
            finished=int(finished),
            completed=int(completed),
            mean_duration=float(duration_sum) / int(durations) if durations else None,
        ),
    )


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
