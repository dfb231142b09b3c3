"""Local calendar arithmetic over UTC instants: day boundaries and quarter-hour buckets.

Every offset in use today is a multiple of 15 minutes, so a UTC quarter hour always falls in a
single local hour; counting per quarter hour and mapping each quarter to local time is exact in
any zone, across DST changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

QUARTER_SECONDS = 900
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of ``day`` in ``zone``, in UTC (a zone skipping midnight starts later)."""
    naive = datetime.combine(day, time())
    for minutes in range(0, 24 * 60, 15):
        candidate = (naive + timedelta(minutes=minutes)).replace(tzinfo=zone)
        # A wall time that does not exist changes when it goes round the UTC clock.
        if candidate.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == candidate.replace(
            tzinfo=None
        ):
            return candidate.astimezone(UTC)
    raise ValueError(f"{day} has no wall time in {zone.key}")  # pragma: no cover


def day_boundaries(last_day: date, days: int, zone: ZoneInfo) -> list[datetime]:
    """``days + 1`` UTC instants: the starts of the ``days`` local days ending with ``last_day``
    and the start of the day after it."""
    first = last_day - timedelta(days=days - 1)
    return [local_midnight(first + timedelta(days=i), zone) for i in range(days + 1)]


def quarter_of(instant: datetime) -> int:
    """The quarter-hour bucket of an aware instant (seconds since the epoch // 900)."""
    return int(instant.timestamp()) // QUARTER_SECONDS


def first_quarter_at_or_after(instant: datetime) -> int:
    """The first bucket that starts at or after ``instant``."""
    return -(-int(instant.timestamp()) // QUARTER_SECONDS)


def offset_changes(zone: ZoneInfo, start: datetime, end: datetime) -> tuple[list[int], list[int]]:
    """The UTC offsets of ``zone`` over ``[start, end]``: parallel lists of the epoch second each
    offset starts at (the first is ``start``) and the offset in seconds.

    Offsets are probed once a day and each change found is located to the second, so mapping
    many instants to local time costs a bisection each instead of a zoneinfo lookup.
    """

    def offset(ts: int) -> int:
        moment = datetime.fromtimestamp(ts, UTC).astimezone(zone)
        return int((moment.utcoffset() or timedelta()).total_seconds())

    first, last = int(start.timestamp()), int(end.timestamp())
    starts, offsets = [first], [offset(first)]
    probe = first
    while probe < last:
        following = min(probe + 86400, last)
        if offset(following) != offsets[-1]:
            low, high = probe, following  # offset(low) is current, offset(high) is new
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == offsets[-1]:
                    low = middle
                else:
                    high = middle
            starts.append(high)
            offsets.append(offset(high))
            probe = high
        else:
            probe = following
    return starts, offsets
