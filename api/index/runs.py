"""Queries on runs, scoped to an owner's job."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from api.index.models import Run, utcnow


async def get_run(session: AsyncSession, *, job_id: str, run_id: str) -> Run | None:
    """A run of the job, or None."""
    result = await session.execute(
        select(Run).where(col(Run.id) == run_id, col(Run.job_id) == job_id)
    )
    return result.scalar_one_or_none()


async def list_runs(
    session: AsyncSession, *, job_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[Run], int]:
    """A page of the job's runs, newest first, and how many match in total."""
    where: list[sa.ColumnElement[bool]] = [col(Run.job_id) == job_id]
    if status is not None:
        where.append(col(Run.status) == status)
    total = await session.execute(select(sa.func.count()).select_from(Run).where(*where))
    rows = await session.execute(
        select(Run)
        .where(*where)
        .order_by(col(Run.started_at).desc(), col(Run.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars()), int(total.scalar_one())


async def running_run_ids(session: AsyncSession, *, job_id: str) -> list[str]:
    """Ids of the job's runs still running."""
    rows = await session.execute(
        select(Run.id).where(col(Run.job_id) == job_id, col(Run.status) == "running")
    )
    return list(rows.scalars())


async def insert_manual_run(session: AsyncSession, *, run_id: str, job_id: str, owner: str) -> None:
    """Record a triggered run as ``running`` and commit (one Core statement: it is on every
    trigger's path)."""
    await session.execute(
        sa.insert(Run).values(
            id=run_id,
            job_id=job_id,
            owner=owner,
            trigger="manual",
            status="running",
            attempts=0,
            started_at=utcnow(),
        )
    )
    await session.commit()


async def forget_run(session: AsyncSession, *, run_id: str) -> None:
    """Remove a run whose workflow never started, and commit."""
    await session.execute(sa.delete(Run).where(col(Run.id) == run_id))
    await session.commit()
