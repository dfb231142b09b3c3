"""DST warnings: the fires of a cron schedule that a DST change skips, shifts or doubles.

Temporal walks a cron expression's wall-clock fields in the schedule's zone (``domain/cron.py``),
so on the days a zone changes its offset some matching wall times do not fire, fire at another
time, or fire twice (see docs/time.md). This module compares, on each such day, the wall times
an expression names with the fires the one evaluator gives, and names every difference; it never
predicts a fire of its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from domain.cron import go_date, parse_cron
from domain.schedules import (
    AtSchedule,
    CronSchedule,
    EverySchedule,
    excluded_by,
    next_fire_times,
)
from domain.timezones import load_timezone

__all__ = ["DstWarning", "WarningKind", "at_warnings", "dst_warnings", "transition_days"]

WarningKind = Literal["skipped", "shifted", "fires_twice", "fires_once"]

# A day's fires at most: every minute, a repeated hour and a margin.
_FIRES_PER_DAY = 24 * 60 + 120


@dataclass(frozen=True)
class DstWarning:
    """One wall time of a schedule that Temporal does not fire exactly once as written.

    ``at`` is the wall time the expression names (local, no offset), ``fires_at`` the instants
    Temporal fires for it (empty when it does not fire).
    """

    at: dt.datetime
    kind: WarningKind
    message: str
    fires_at: tuple[dt.datetime, ...] = field(default=())


@lru_cache(maxsize=1024)
def transition_days(zone: ZoneInfo, start: dt.date, end: dt.date) -> tuple[dt.date, ...]:
    """The local dates from ``start`` to ``end`` (inclusive) on which ``zone``'s offset changes."""
    days: list[dt.date] = []
    day = start
    offset = dt.datetime.combine(day, dt.time(), zone).utcoffset()
    while day <= end:
        following = day + dt.timedelta(days=1)
        next_offset = dt.datetime.combine(following, dt.time(), zone).utcoffset()
        if next_offset != offset:
            days.append(day)
        day, offset = following, next_offset
    return tuple(days)


def _wall(instant: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def _occurrences(wall: dt.datetime, zone: ZoneInfo) -> list[dt.datetime]:
    """The instants (UTC) whose wall time in ``zone`` is ``wall``: none in a gap, two in a
    repeat."""
    found: list[dt.datetime] = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(dt.UTC)
        if _wall(instant, zone) == wall and instant not in found:
            found.append(instant)
    return sorted(found)


def _hm(wall: dt.datetime) -> str:
    return wall.strftime("%H:%M")


def _local(instant: dt.datetime, zone: ZoneInfo) -> str:
    local = instant.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local.strftime('%H:%M')} ({offset[:3]}:{offset[3:]})"


def _day_warnings(expressions: tuple[str, ...], zone: ZoneInfo, day: dt.date) -> list[DstWarning]:
    name, date = zone.key, day.isoformat()
    start = dt.datetime.combine(day, dt.time(), zone).astimezone(dt.UTC) - dt.timedelta(hours=3)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    schedule = CronSchedule(type="cron", expression=list(expressions), timezone=name)
    fires = [
        f.astimezone(dt.UTC)
        for f in next_fire_times(schedule, after=start, count=_FIRES_PER_DAY)
        if f < end + dt.timedelta(hours=3)
    ]
    fires = [f for f in fires if _wall(f, zone).date() == day]
    named = {
        dt.datetime.combine(day, dt.time(hour, minute))
        for compiled in map(parse_cron, expressions)
        if compiled.names_day(day)
        for hour in compiled.hours
        for minute in compiled.minutes
    }
    by_wall: dict[dt.datetime, list[dt.datetime]] = {}
    for fire in fires:
        by_wall.setdefault(_wall(fire, zone), []).append(fire)
    unexplained = [f for f in fires if _wall(f, zone) not in named]
    warnings: list[DstWarning] = []
    for wall in sorted(named):
        fired = list(by_wall.get(wall, []))
        occurrences = _occurrences(wall, zone)
        if not occurrences:
            # Go's time.Date reading of the missing wall time; Temporal keeps it if it stays in
            # the same hour (a 30-minute change), else skips it (domain/cron.py).
            instant = dt.datetime.fromtimestamp(
                go_date(day.year, day.month, day.day, wall.hour, wall.minute, 0, zone), dt.UTC
            )
            if instant in unexplained:
                unexplained.remove(instant)
                warnings.append(
                    DstWarning(
                        wall,
                        "shifted",
                        f"{_hm(wall)} does not exist in {name} on {date}; Temporal fires at "
                        f"{_local(instant, zone)} instead",
                        (instant,),
                    )
                )
            else:
                warnings.append(
                    DstWarning(
                        wall,
                        "skipped",
                        f"{_hm(wall)} does not exist in {name} on {date}; "
                        "Temporal does not fire that day",
                    )
                )
            continue
        # A second walk of a repeated hour fires one hour after the first (domain/cron.py).
        for extra in list(unexplained):
            if _wall(extra - dt.timedelta(hours=1), zone) == wall and fired:
                unexplained.remove(extra)
                fired.append(extra)
        fired.sort()
        if not fired:
            warnings.append(
                DstWarning(
                    wall,
                    "skipped",
                    f"{_hm(wall)} on {date} in {name} is next to a DST change; "
                    "Temporal does not fire it that day",
                )
            )
        elif len(fired) > 1:
            times = " and ".join(_local(f, zone) for f in fired)
            repeat = "happens twice" if len(occurrences) > 1 else "is next to a DST change"
            warnings.append(
                DstWarning(
                    wall,
                    "fires_twice",
                    f"{_hm(wall)} {repeat} in {name} on {date}; Temporal fires twice, at {times}",
                    tuple(fired),
                )
            )
        elif len(occurrences) > 1 and fired[0] != occurrences[0]:
            # Once at the first occurrence is what a reader expects; the second is an hour on.
            warnings.append(
                DstWarning(
                    wall,
                    "fires_once",
                    f"{_hm(wall)} happens twice in {name} on {date}; Temporal fires once, at "
                    f"the second ({_local(fired[0], zone)}), not the first",
                    tuple(fired),
                )
            )
    for extra in unexplained:
        wall = _wall(extra, zone)
        warnings.append(
            DstWarning(
                wall,
                "shifted",
                f"Temporal also fires at {_local(extra, zone)} on {date} in {name}, next to a "
                "DST change, a time the expression does not name",
                (extra,),
            )
        )
    return sorted(warnings, key=lambda w: (w.at, w.kind))


@lru_cache(maxsize=4096)
def _cached_day(expressions: tuple[str, ...], zone: str, day: dt.date) -> tuple[DstWarning, ...]:
    return tuple(_day_warnings(expressions, load_timezone(zone), day))


def dst_warnings(
    schedule: CronSchedule | EverySchedule | AtSchedule,
    *,
    start: dt.datetime,
    end: dt.datetime,
) -> list[DstWarning]:
    """Every named wall time from ``start`` to ``end`` that Temporal skips, shifts or fires
    other than once, in time order.

    Only ``cron`` schedules have them: an ``every`` interval is a fixed period that no DST
    change moves, and an ``at`` time is one instant.
    """
    if schedule.start_at is not None:  # the schedule's own bounds (docs/time.md)
        start = max(start, schedule.start_at - dt.timedelta(seconds=1))
    if schedule.end_at is not None:
        end = min(end, schedule.end_at)
    if not isinstance(schedule, CronSchedule) or end <= start:
        return []
    zone = load_timezone(schedule.timezone)
    days = transition_days(zone, start.astimezone(zone).date(), end.astimezone(zone).date())
    warnings = []
    for day in days:
        if _day_excluded(schedule, day, zone):
            continue  # nothing fires that day: no wall time to warn of
        for warning in _cached_day(schedule.expressions, schedule.timezone, day):
            instants = (
                warning.fires_at
                or _occurrences(warning.at, zone)
                or (warning.at.replace(tzinfo=zone).astimezone(dt.UTC),)
            )
            if any(start < instant <= end for instant in instants):
                warnings.append(warning)
    return warnings


def _day_excluded(schedule: CronSchedule, day: dt.date, zone: ZoneInfo) -> bool:
    """Whether the schedule's exclusions drop the whole local ``day`` (a date or a holiday)."""
    if schedule.exclude is None:
        return False
    noon = dt.datetime.combine(day, dt.time(12), zone)
    return (excluded_by(schedule, noon) or ("",))[0] in ("date", "holiday")


def at_warnings(wall: dt.datetime, schedule: AtSchedule) -> list[DstWarning]:
    """The warning of a one-off given as the naive wall time ``wall``: a time a spring-forward
    skips is moved forward by the gap (docs/time.md), so it is ``shifted``. A repeated wall
    time means its first occurrence, as a reader expects, so it has none."""
    zone = load_timezone(schedule.timezone)
    wall = wall.replace(tzinfo=None, second=0, microsecond=0)
    if _occurrences(wall, zone):
        return []
    fires = schedule.datetime.astimezone(dt.UTC)
    return [
        DstWarning(
            wall,
            "shifted",
            f"{_hm(wall)} does not exist in {zone.key} on {wall.date().isoformat()}; "
            f"the job fires at {_local(fires, zone)}, moved forward by the DST gap",
            (fires,),
        )
    ]
