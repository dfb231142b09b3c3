"""Activity events and their quarter-hour and hour counts (heatmaps read the counts)."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from api.index.db import upsert_insert
from api.index.models import ActivityEvent, activity_buckets, activity_events, activity_hours
from domain.localtime import QUARTER_SECONDS, first_quarter_at_or_after, quarter_of

HOUR_SECONDS = 3600


async def add_events(
    conn: AsyncConnection | AsyncSession, rows: Sequence[tuple[str, datetime, str]]
) -> None:
    """Insert ``(owner, at, kind)`` events and add them to their quarter-hour and hour counts
    (caller commits)."""
    if not rows:
        return
    await conn.execute(
        activity_events.insert(), [{"owner": o, "at": at, "kind": kind} for o, at, kind in rows]
    )
    quarters = Counter((owner, quarter_of(at)) for owner, at, _ in rows)
    hours = Counter((owner, quarter // 4) for (owner, quarter) in quarters.elements())
    insert = upsert_insert(conn)
    for table, key, counts in [
        (activity_buckets, activity_buckets.c.bucket, quarters),
        (activity_hours, activity_hours.c.hour, hours),
    ]:
        statement = insert(table)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.owner, key],
                set_={"count": table.c.count + statement.excluded.count},
            ),
            [{"owner": o, key.name: k, "count": n} for (o, k), n in sorted(counts.items())],
        )


@functools.cache
def _cells(hourly: bool, pieces: int) -> sa.Select[Any]:
    """Events of one owner's quarter-hour (or hour) counts ``first..last`` summed per local hour
    of the week, with the zone's UTC offset given in ``pieces`` (``offset_i`` from ``start_i``)."""
    table, unit = (activity_hours, HOUR_SECONDS) if hourly else (activity_buckets, QUARTER_SECONDS)
    key = table.c.hour if hourly else table.c.bucket
    values = [sa.bindparam(f"offset_{i}", type_=sa.Integer) for i in range(pieces)]
    offset: Any = values[0]
    if pieces > 1:
        offset = sa.case(
            *[(key < sa.bindparam(f"start_{i}"), values[i - 1]) for i in range(1, pieces)],
            else_=values[-1],
        )
    # Local hours since the epoch; the epoch (hour 0) was a Thursday, 72 hours after a Monday.
    cell = (((key * unit + offset) // HOUR_SECONDS + 72) % 168).label("cell")
    return (
        sa.select(cell, sa.func.sum(table.c.count))
        .where(
            table.c.owner == sa.bindparam("owner"),
            key >= sa.bindparam("first"),
            key <= sa.bindparam("last"),
        )
        .group_by(sa.literal_column("cell"))
    )


async def weekly_cells(
    session: AsyncSession,
    *,
    owner: str,
    start: datetime,
    end: datetime,
    offsets: tuple[list[int], list[int]],
) -> list[tuple[int, int]]:
    """Events of the owner's quarter hours from the first one starting at or after ``start``
    to the one holding ``end``, summed per local hour of the week.

    Args:
        offsets: the zone's UTC offsets over ``[start, end]`` (``offset_changes``): the epoch
            second each starts at, and the offset in seconds.

    Returns:
        ``(weekday * 24 + hour, events)`` pairs (Monday 0), computed in SQL so only the at most
        168 cells of the week leave the database. When the window starts on a whole hour and
        every offset and change is in whole hours (most zones), whole hours are read from the
        hour counts and only the last, current hour from the quarter hours.
    """
    starts, values = offsets
    first, last = first_quarter_at_or_after(start), quarter_of(end)
    whole_hours = all(s % HOUR_SECONDS == 0 for s in starts) and all(
        v % HOUR_SECONDS == 0 for v in values
    )
    reads = []  # (hourly, first, last, start of each piece in the table's unit)
    if whole_hours and last // 4 > first // 4:
        reads.append((True, first // 4, last // 4 - 1, [s // HOUR_SECONDS for s in starts]))
        first = last // 4 * 4
    reads.append((False, first, last, [s // QUARTER_SECONDS for s in starts]))
    cells: Counter[int] = Counter()
    for hourly, low, high, piece_starts in reads:
        params: dict[str, Any] = {"owner": owner, "first": low, "last": high}
        for i, (piece_start, value) in enumerate(zip(piece_starts, values, strict=True)):
            params[f"start_{i}"] = piece_start
            params[f"offset_{i}"] = value
        rows = await session.execute(_cells(hourly, len(values)), params)
        cells.update({int(k): int(n) for k, n in rows.all()})
    return sorted(cells.items())


async def event_times(session: AsyncSession, *, owner: str, since: datetime) -> list[datetime]:
    """When the owner's events since ``since`` happened (UTC)."""
    rows = await session.execute(
        select(ActivityEvent.at).where(
            col(ActivityEvent.owner) == owner, col(ActivityEvent.at) >= since
        )
    )
    return list(rows.scalars())
