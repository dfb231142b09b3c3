"""A job's pauses and resumes, as ``explain`` reads them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.core.index.models import JobEvent, job_events, utcnow


def add_event(
    session: AsyncSession, *, job_id: str, kind: str, by: str, reason: str | None
) -> None:
    """Add a pause or resume to the session's transaction (committed with the job's row)."""
    session.add(JobEvent(job_id=job_id, at=utcnow(), kind=kind, by=by, reason=reason))


async def insert_event(
    conn: AsyncConnection, *, job_id: str, kind: str, by: str, reason: str | None
) -> None:
    """Write a pause or resume in the caller's transaction (the run recorder's)."""
    await conn.execute(
        sa.insert(job_events).values(job_id=job_id, at=utcnow(), kind=kind, by=by, reason=reason)
    )


async def state_at(session: AsyncSession, *, job_id: str, at: datetime) -> JobEvent | None:
    """The job's last pause or resume at or before ``at`` (None: none before then)."""
    rows = await session.execute(
        sa.select(JobEvent)
        .where(JobEvent.job_id == job_id, JobEvent.at <= at)  # type: ignore[arg-type]
        .order_by(JobEvent.at.desc(), JobEvent.id.desc())  # type: ignore[attr-defined, union-attr]
        .limit(1)
    )
    return rows.scalars().first()
