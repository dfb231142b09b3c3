"""Activity events and their quarter-hour and hour counts (heatmaps read the counts)."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from api.core.index.db import upsert_insert
from api.core.index.models import (
    ActivityEvent,
    activity_buckets,
    activity_events,
    activity_hours,
    api_minutes,
)
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
    hours: Counter[tuple[str, int]] = Counter()
    for (owner, quarter), n in quarters.items():
        hours[owner, quarter // 4] += n
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


async def add_api_minutes(
    conn: AsyncConnection | AsyncSession, calls: Sequence[tuple[str, int]], *, kind: str
) -> None:
    """Record ``(owner, minute)`` API calls as one ``kind`` event each, unless another process
    recorded that owner's minute already (caller commits).

    Claims older than an hour are dropped: a minute is only claimed while it is being flushed.
    """
    if not calls:
        return
    claim = upsert_insert(conn)(api_minutes).on_conflict_do_nothing()
    claimed = await conn.execute(
        claim.returning(api_minutes.c.owner, api_minutes.c.minute),
        [{"owner": owner, "minute": minute} for owner, minute in calls],
    )
    new = [(owner, datetime.fromtimestamp(minute * 60, UTC), kind) for owner, minute in claimed]
    await add_events(conn, new)
    oldest = min(minute for _, minute in calls) - 60
    await conn.execute(api_minutes.delete().where(api_minutes.c.minute < oldest))


@functools.cache
def _cells(hourly: bool, pieces: int) -> sa.Select[Any]:
    """One owner's quarter-hour (or hour) counts ``first..last`` summed per local hour of the
    week, the zone's UTC offset given in ``pieces`` (``offset_i`` from ``start_i`` on).

    Bind names start with ``h_`` or ``q_`` so both kinds can be read in one statement.
    """
    table, unit = (activity_hours, HOUR_SECONDS) if hourly else (activity_buckets, QUARTER_SECONDS)
    key = table.c.hour if hourly else table.c.bucket
    prefix = "h_" if hourly else "q_"
    values = [sa.bindparam(f"{prefix}offset_{i}", type_=sa.Integer) for i in range(pieces)]
    offset: Any = values[0]
    if pieces > 1:
        offset = sa.case(
            *[(key < sa.bindparam(f"{prefix}start_{i}"), values[i - 1]) for i in range(1, pieces)],
            else_=values[-1],
        )
    # Local hours since the epoch; the epoch (hour 0) was a Thursday, 72 hours after a Monday.
    cell = (((key * unit + offset) // HOUR_SECONDS + 72) % 168).label("cell")
    return (
        sa.select(cell, sa.func.sum(table.c.count))
        .where(
            table.c.owner == sa.bindparam("owner"),
            key >= sa.bindparam(f"{prefix}first"),
            key <= sa.bindparam(f"{prefix}last"),
        )
        .group_by(sa.literal_column("cell"))
    )


@functools.cache
def _weekly_cells(whole_hours: bool, pieces: int) -> sa.CompoundSelect[Any] | sa.Select[Any]:
    if whole_hours:
        return sa.union_all(_cells(True, pieces), _cells(False, pieces))
    return _cells(False, pieces)


async def weekly_cells(
    session: AsyncSession,
    *,
    owner: str,
    start: datetime,
    end: datetime,
    offsets: tuple[list[int], list[int]],
) -> list[tuple[int, int]]:
    """Events of the owner's quarter hours from the first one starting at or after ``start``
    to the one holding ``end``, summed per local hour of the week, in one round trip.

    Args:
        offsets: the zone's UTC offsets over ``[start, end]`` (``offset_changes``): the epoch
            second each starts at, and the offset in seconds.

    Returns:
        ``(weekday * 24 + hour, events)`` pairs (Monday 0), computed in SQL so only the cells
        of the week leave the database. When the window starts on a whole hour and every
        offset and change is in whole hours (most zones), the hours before the current one are
        read from the hour counts, four times fewer rows, and only the current hour's quarters.
    """
    starts, values = offsets
    first, last = first_quarter_at_or_after(start), quarter_of(end)
    whole_hours = all(s % HOUR_SECONDS == 0 for s in starts) and all(
        v % HOUR_SECONDS == 0 for v in values
    )
    reads = [("q_", first, last, QUARTER_SECONDS)]
    if whole_hours:  # ``first`` is then the first quarter of an hour
        current_hour = last // 4
        reads = [
            ("h_", first // 4, current_hour - 1, HOUR_SECONDS),
            ("q_", current_hour * 4, last, QUARTER_SECONDS),
        ]
    params: dict[str, Any] = {"owner": owner}
    for prefix, low, high, unit in reads:
        params |= {f"{prefix}first": low, f"{prefix}last": high}
        for i, (piece_start, value) in enumerate(zip(starts, values, strict=True)):
            params |= {f"{prefix}start_{i}": piece_start // unit, f"{prefix}offset_{i}": value}
    rows = await session.execute(_weekly_cells(whole_hours, len(values)), params)
    cells: Counter[int] = Counter()
    for cell, count in rows.all():
        cells[int(cell)] += int(count)
    return sorted(cells.items())


async def event_times(session: AsyncSession, *, owner: str, since: datetime) -> list[datetime]:
    """When the owner's events since ``since`` happened (UTC)."""
    rows = await session.execute(
        select(ActivityEvent.at).where(
            col(ActivityEvent.owner) == owner, col(ActivityEvent.at) >= since
        )
    )
    return list(rows.scalars())
