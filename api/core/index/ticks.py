"""Queries of the tick: its records, and the index-wide reads its reconciliation needs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from api.core.index.models import TickRecord, ticks


async def last_tick_started_at(conn: AsyncConnection) -> datetime | None:
    """When the latest recorded tick started, or None before the first."""
    started: datetime | None = (
        await conn.execute(sa.select(sa.func.max(ticks.c.started_at)))
    ).scalar_one()
    return started


async def record_tick(
    conn: AsyncConnection,
    *,
    workflow_id: str,
    started_at: datetime,
    finished_at: datetime,
    counts: Mapping[str, Any],
) -> None:
    """Store what one tick checked and repaired (``counts``: the tick result's fields,
    ``jobs_checked`` … ``next_run_at_refreshed``)."""
    await conn.execute(
        ticks.insert().values(
            workflow_id=workflow_id, started_at=started_at, finished_at=finished_at, **counts
        )
    )


async def forget_ticks_before(conn: AsyncConnection, *, before: datetime) -> None:
    """Remove the records of ticks that started before ``before``."""
    await conn.execute(ticks.delete().where(ticks.c.started_at < before))


async def ticks_since(session: AsyncSession, *, since: datetime) -> list[TickRecord]:
    """The ticks that started at or after ``since``, newest first."""
    rows = await session.execute(
        select(TickRecord)
        .where(col(TickRecord.started_at) >= since)
        .order_by(col(TickRecord.started_at).desc())
    )
    return list(rows.scalars())
