"""Activity events and their quarter-hour counts (heatmaps read the counts)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from api.index.db import upsert_insert
from api.index.models import ActivityBucket, ActivityEvent, activity_buckets, activity_events
from domain.localtime import QUARTER_SECONDS, quarter_of


async def add_events(
    conn: AsyncConnection | AsyncSession, rows: Sequence[tuple[str, datetime, str]]
) -> None:
    """Insert ``(owner, at, kind)`` events and add them to their buckets (caller commits)."""
    if not rows:
        return
    await conn.execute(
        activity_events.insert(), [{"owner": o, "at": at, "kind": kind} for o, at, kind in rows]
    )
    counts = Counter((owner, quarter_of(at)) for owner, at, _ in rows)
    statement = upsert_insert(conn)(activity_buckets)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=[activity_buckets.c.owner, activity_buckets.c.bucket],
            set_={"count": activity_buckets.c.count + statement.excluded.count},
        ),
        [{"owner": o, "bucket": b, "count": n} for (o, b), n in sorted(counts.items())],
    )


async def weekly_cells(
    session: AsyncSession,
    *,
    owner: str,
    first: int,
    last: int,
    offsets: list[tuple[int, int]],
) -> list[tuple[int, int]]:
    """Events of the owner's buckets ``first..last`` summed per local hour of the week.

    Args:
        offsets: ``(first bucket, UTC offset in seconds)`` pieces covering the range, in order.

    Returns:
        ``(weekday * 24 + hour, events)`` pairs (Monday 0), computed in SQL so only the at most
        168 cells of the week leave the database.
    """
    bucket = col(ActivityBucket.bucket)
    offset: Any = sa.literal(offsets[0][1])
    if len(offsets) > 1:
        offset = sa.case(
            *[
                (bucket < start, value)
                for (_, value), (start, _) in zip(offsets, offsets[1:], strict=False)
            ],
            else_=offsets[-1][1],
        )
    # Local hours since the epoch; the epoch (hour 0) was a Thursday, 72 hours after a Monday.
    cell = (((bucket * QUARTER_SECONDS + offset) // 3600 + 72) % 168).label("cell")
    rows = await session.execute(
        select(cell, sa.func.sum(ActivityBucket.count))
        .where(col(ActivityBucket.owner) == owner, bucket >= first, bucket <= last)
        .group_by(sa.literal_column("cell"))
    )
    return [(int(k), int(n)) for k, n in rows.all()]


async def event_times(session: AsyncSession, *, owner: str, since: datetime) -> list[datetime]:
    """When the owner's events since ``since`` happened (UTC)."""
    rows = await session.execute(
        select(ActivityEvent.at).where(
            col(ActivityEvent.owner) == owner, col(ActivityEvent.at) >= since
        )
    )
    return list(rows.scalars())
