"""Queries on jobs. Every read is scoped to an owner; deleted jobs are invisible."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from api.index.models import Job, Run

# Built once: every job route runs it.
_OWNERS_JOB = select(Job).where(
    Job.id == sa.bindparam("job_id"),
    Job.owner == sa.bindparam("owner"),
    col(Job.deleted_at).is_(None),
)


async def get_job(session: AsyncSession, *, owner: str, job_id: str) -> Job | None:
    """The owner's job, or None (another owner's job is None too)."""
    result = await session.execute(_OWNERS_JOB, {"job_id": job_id, "owner": owner})
    return result.scalar_one_or_none()


async def list_jobs(
    session: AsyncSession, *, owner: str, status: str | None, limit: int, offset: int
) -> tuple[list[Job], int]:
    """A page of the owner's jobs, newest first, and how many match in total.

    The total rides on the page's rows as an uncorrelated subquery (evaluated once), so a
    page costs one round trip; only a page past the end needs a second one to count.
    """
    where: list[sa.ColumnElement[bool]] = [col(Job.owner) == owner, col(Job.deleted_at).is_(None)]
    if status is not None:
        where.append(col(Job.status) == status)
    count = select(sa.func.count()).select_from(Job).where(*where)
    rows = (
        await session.execute(
            select(Job, count.scalar_subquery())
            .where(*where)
            .order_by(col(Job.created_at).desc(), col(Job.id).desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    if rows:
        return [job for job, _ in rows], int(rows[0][1])
    total = 0 if offset == 0 else int((await session.execute(count)).scalar_one())
    return [], total


async def purge_job(session: AsyncSession, *, job_id: str) -> None:
    """Remove a job and its runs from the index (its schedule is already gone)."""
    await session.execute(sa.delete(Run).where(col(Run.job_id) == job_id))
    await session.execute(sa.delete(Job).where(col(Job.id) == job_id))
    await session.commit()
