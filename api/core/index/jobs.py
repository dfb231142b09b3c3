"""Queries on jobs. Every read is scoped to an owner; deleted jobs are invisible."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from api.core.index.incidents import delete_job_incidents
from api.core.index.models import (
    Job,
    Run,
    backfills,
    hooks,
    job_counts,
    job_events,
    jobs,
    output_embeddings,
    runs,
)

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


def _count(*, by_status: bool) -> sa.Select[Any]:
    where = [job_counts.c.owner == sa.bindparam("owner")]
    if by_status:
        where.append(job_counts.c.status == sa.bindparam("status"))
    return sa.select(sa.func.coalesce(sa.func.sum(job_counts.c.count), 0)).where(*where)


def _page(*, by_status: bool) -> Any:
    where = [jobs.c.owner == sa.bindparam("owner"), jobs.c.deleted_at.is_(None)]
    if by_status:
        where.append(jobs.c.status == sa.bindparam("status"))
    return (
        sa.select(*jobs.c, _count(by_status=by_status).scalar_subquery().label("total"))
        .where(*where)
        .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )


# Built once, with and without a status filter: every job list runs them.
_COUNT = {by_status: _count(by_status=by_status) for by_status in (False, True)}
_PAGE = {by_status: _page(by_status=by_status) for by_status in (False, True)}


async def list_jobs(
    session: AsyncSession, *, owner: str, status: str | None, limit: int, offset: int
) -> tuple[Sequence[sa.Row[Any]], int]:
    """A page of the owner's jobs (rows of ``jobs``, read without building ORM objects),
    newest first, and how many match in total.

    The total is read from the live-job counts (``job_counts``) with the page's rows, so a
    page costs one round trip; only a page past the end needs a second one to count.
    """
    by_status = status is not None
    params = {"owner": owner, "status": status, "limit": limit, "offset": offset}
    rows = (await session.execute(_PAGE[by_status], params)).all()
    if rows:
        return rows, int(rows[0].total)
    if offset == 0:
        return [], 0
    return [], int((await session.execute(_COUNT[by_status], params)).scalar_one())


async def purge_job(session: AsyncSession, *, job_id: str) -> None:
    """Remove a job and its runs from the index (its schedule is already gone)."""
    await session.execute(sa.delete(Run).where(col(Run.job_id) == job_id))
    await session.execute(sa.delete(job_events).where(job_events.c.job_id == job_id))
    await session.execute(sa.delete(backfills).where(backfills.c.job_id == job_id))
    await session.execute(sa.delete(output_embeddings).where(output_embeddings.c.job_id == job_id))
    await session.execute(sa.delete(hooks).where(hooks.c.job_id == job_id))
    await delete_job_incidents(session, job_id=job_id)
    await session.execute(sa.delete(Job).where(col(Job.id) == job_id))
    await session.commit()


# The worker's queries: Core statements on a connection the caller's transaction owns.


async def job_row(conn: AsyncConnection, *, job_id: str) -> sa.Row[Any] | None:
    """The job's row (deleted or not), or None."""
    return (await conn.execute(sa.select(jobs).where(jobs.c.id == job_id))).first()


async def update_job(conn: AsyncConnection, *, job_id: str, changes: dict[str, Any]) -> None:
    """Set the job's columns in ``changes``."""
    await conn.execute(jobs.update().where(jobs.c.id == job_id).values(**changes))


async def all_job_rows(conn: AsyncConnection) -> Sequence[sa.Row[Any]]:
    """Every job's row, of every owner, deleted ones included."""
    return (await conn.execute(sa.select(jobs))).all()


async def delete_job_rows(conn: AsyncConnection, *, job_id: str) -> None:
    """Remove a job and its runs from the index."""
    await conn.execute(runs.delete().where(runs.c.job_id == job_id))
    await conn.execute(job_events.delete().where(job_events.c.job_id == job_id))
    await conn.execute(backfills.delete().where(backfills.c.job_id == job_id))
    await conn.execute(output_embeddings.delete().where(output_embeddings.c.job_id == job_id))
    await conn.execute(hooks.delete().where(hooks.c.job_id == job_id))
    await delete_job_incidents(conn, job_id=job_id)
    await conn.execute(jobs.delete().where(jobs.c.id == job_id))


async def refresh_next_run(
    conn: AsyncConnection, *, job_id: str, seen: datetime, next_run_at: datetime | None
) -> int:
    """Store the job's next fire unless the job changed since ``seen`` (its ``updated_at``
    when read); answers how many rows changed (0 or 1)."""
    result = await conn.execute(
        jobs.update()
        .where(jobs.c.id == job_id, jobs.c.updated_at == seen)
        .values(next_run_at=next_run_at)
    )
    return result.rowcount


async def active_schedules(session: AsyncSession, *, owner: str) -> Sequence[sa.Row[Any]]:
    """The owner's active jobs' ``id``, ``name``, ``schedule`` (as its stored JSON text) and
    ``jitter_seconds``, by id: the calendar's plan, without loading or decoding whole jobs."""
    result = await session.execute(
        sa.select(
            jobs.c.id,
            jobs.c.name,
            sa.cast(jobs.c.schedule, sa.Text).label("schedule"),
            jobs.c.jitter_seconds,
        )
        .where(jobs.c.owner == owner, jobs.c.deleted_at.is_(None), jobs.c.status == "active")
        .order_by(jobs.c.id)
    )
    return result.all()


async def lock_job(conn: AsyncConnection, *, job_id: str) -> None:
    """Hold the job's row until the transaction ends, so two runs of the job checking its
    budget at once take turns: ``FOR UPDATE`` on PostgreSQL; on SQLite a write no trigger
    watches, which takes the one write lock (pysqlite begins only at the first write)."""
    if conn.dialect.name == "sqlite":
        await conn.execute(
            jobs.update().where(jobs.c.id == job_id).values(run_count=jobs.c.run_count)
        )
    else:
        await conn.execute(sa.select(jobs.c.id).where(jobs.c.id == job_id).with_for_update())


async def pause_for_budget(
    conn: AsyncConnection, *, job_id: str, reason: str, reopens_at: datetime, at: datetime
) -> bool:
    """Pause the job by its budget until ``reopens_at``, if it is active or already paused by
    its budget (a pause by the user is left alone); answers whether the row changed."""
    result = await conn.execute(
        jobs.update()
        .where(
            jobs.c.id == job_id,
            jobs.c.deleted_at.is_(None),
            sa.or_(
                jobs.c.status == "active",
                sa.and_(jobs.c.status == "paused", jobs.c.budget_reopens_at.is_not(None)),
            ),
        )
        .values(
            status="paused",
            paused_reason=reason,
            budget_reopens_at=sa.case(
                (
                    sa.and_(
                        jobs.c.budget_reopens_at.is_not(None),
                        jobs.c.budget_reopens_at > reopens_at,
                    ),
                    jobs.c.budget_reopens_at,
                ),
                else_=reopens_at,
            ),
            next_run_at=None,
            updated_at=at,
        )
    )
    return bool(result.rowcount)


async def reopen_after_budget(
    conn: AsyncConnection,
    *,
    job_id: str,
    reopens_at: datetime,
    at: datetime,
    next_run_at: datetime | None,
) -> bool:
    """Resume a job its budget paused until ``reopens_at`` (as read), unless it changed since
    (resumed, paused by the user, deleted), storing its next fire; answers whether it was
    resumed."""
    result = await conn.execute(
        jobs.update()
        .where(
            jobs.c.id == job_id,
            jobs.c.deleted_at.is_(None),
            jobs.c.status == "paused",
            jobs.c.budget_reopens_at == reopens_at,
        )
        .values(
            status="active",
            paused_reason=None,
            budget_reopens_at=None,
            updated_at=at,
            next_run_at=next_run_at,
        )
    )
    return bool(result.rowcount)
