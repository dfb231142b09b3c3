"""Backfills asked of a job's schedule: what makes a run's trigger ``backfill``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col

from api.core.index.models import Backfill, Run, backfills

# Clock skew allowed between the API (which stamps ``requested_at``) and Temporal (which
# stamps a run's start).
CLOCK_SKEW = timedelta(seconds=5)


async def insert_backfill(session: AsyncSession, *, backfill: Backfill) -> None:
    """Record a backfill and commit, before Temporal starts any of its runs."""
    session.add(backfill)
    await session.commit()


async def forget_backfill(session: AsyncSession, *, backfill_id: str) -> None:
    """Remove a backfill Temporal refused."""
    await session.execute(sa.delete(backfills).where(backfills.c.id == backfill_id))
    await session.commit()


async def recorded_run_ids(session: AsyncSession, *, run_ids: Iterable[str]) -> set[str]:
    """Which of these run ids the index holds already."""
    ids = list(run_ids)
    found: set[str] = set()
    for chunk in range(0, len(ids), 500):
        rows = await session.execute(
            sa.select(col(Run.id)).where(col(Run.id).in_(ids[chunk : chunk + 500]))
        )
        found.update(rows.scalars())
    return found


async def is_backfilled(
    conn: AsyncConnection, *, job_id: str, scheduled_at: datetime, started_at: datetime
) -> bool:
    """Whether a run of the job's schedule with this nominal time, started then, is a
    backfill's: a backfill of the job covers the nominal time and was asked before the start
    (a backfill covers only past times, so the schedule's own run of it started earlier)."""
    row = await conn.execute(
        sa.select(backfills.c.id)
        .where(
            backfills.c.job_id == job_id,
            backfills.c.start <= scheduled_at,
            backfills.c.end > scheduled_at,
            backfills.c.requested_at <= started_at + CLOCK_SKEW,
        )
        .limit(1)
    )
    return row.first() is not None
