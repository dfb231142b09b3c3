"""Job schedules and the one evaluator of their fire times.

``next_fire_times`` is what ``next_run_at``, ``/validate``, ``/calendar-data`` and previews show;
it agrees with the times Temporal Server fires the schedule built from the same model.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from domain.calendars import check_holiday_calendar, holiday_dates, holiday_name
from domain.cron import MAX_YEAR, CronError, parse_cron
from domain.inputs import (
    NUL_FREE_PATTERN,
    IsoDatetime,
    Text,
    check_instant,
    check_no_nul,
)
from domain.timezones import TimezoneName, load_timezone

__all__ = [
    "AtSchedule",
    "CronSchedule",
    "EverySchedule",
    "Schedule",
    "ScheduleExclusions",
    "check_at_in_future",
    "next_fire_time",
    "next_fire_times",
    "parse_duration",
]

_DURATION_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"\s*".join(rf"(?:([0-9]+)\s*{unit})?" for unit in _DURATION_UNITS))
# Beyond this Temporal's protobuf durations and our datetimes stop being meaningful.
_MAX_INTERVAL_SECONDS = 100 * 366 * 86400


def parse_duration(value: int | str) -> int:
    """Seconds in an interval given as seconds or as a duration string.

    Args:
        value: Whole seconds (``3600`` or ``"3600"``), or units in the order w d h m s
            (``"30m"``, ``"2h"``, ``"1h30m"``, ``"90s"``, ``"1d"``).

    Returns:
        The interval in whole seconds, at least 1.

    Raises:
        ValueError: The value is not a duration, or is shorter than one second.
    """
    if isinstance(value, bool):
        raise ValueError("interval must be a number of seconds or a duration like '30m'")
    if isinstance(value, int):
        seconds = value
    else:
        text = value.strip().lower()
        if text.isascii() and text.isdigit():
            seconds = int(text)
        else:
            match = _DURATION.fullmatch(text)
            if not text or match is None or not any(match.groups()):
                raise ValueError(
                    f"interval '{value}' is not a duration: use seconds or units in the order "
                    "w d h m s, e.g. '30m', '2h', '1h30m', '90s', '1d'"
                )
            seconds = sum(
                int(amount) * unit
                for amount, unit in zip(match.groups(), _DURATION_UNITS.values(), strict=True)
                if amount
            )
    if seconds < 1:
        raise ValueError("interval must be at least 1 second")
    if seconds > _MAX_INTERVAL_SECONDS:
        raise ValueError("interval must be at most 100 years")
    return seconds


# At most this many excluded dates, and as many skipped fires, per schedule.
MAX_EXCLUDED = 1000
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a date") from None
    else:
        raise ValueError("must be a date as YYYY-MM-DD, e.g. 2026-12-25")
    if not 2000 <= day.year <= MAX_YEAR:
        raise ValueError(f"{day.isoformat()} is outside the years 2000–{MAX_YEAR}")
    return day


def _holiday_calendar(value: str | None) -> str | None:
    return None if value is None else check_holiday_calendar(check_no_nul(value))


class ScheduleExclusions(BaseModel):
    """Fires a repeating schedule does not make (dates are local, in its zone)."""

    model_config = ConfigDict(extra="forbid")

    dates: Annotated[
        list[Annotated[dt.date, BeforeValidator(_iso_date)]],
        Field(
            max_length=MAX_EXCLUDED,
            exclude_if=lambda dates: not dates,
            description="no fires on these local dates",
        ),
    ] = []
    holidays: Annotated[
        # The length bound on the text alone: on the union it would also be applied to null.
        Annotated[Text, Field(max_length=40)] | None,
        AfterValidator(_holiday_calendar),
        Field(
            exclude_if=lambda name: name is None,
            description="no fires on these public holidays: US, GB-ENG, DE-BY…",
        ),
    ] = None
    skipped: Annotated[
        list[IsoDatetime],
        Field(
            max_length=MAX_EXCLUDED,
            exclude_if=lambda skipped: not skipped,
            description="fire times skipped on purpose",
        ),
    ] = []

    @model_validator(mode="after")
    def _sorted(self) -> ScheduleExclusions:
        self.dates = sorted(set(self.dates))
        return self

    def is_empty(self) -> bool:
        """Whether nothing is excluded."""
        return not (self.dates or self.holidays or self.skipped)


def _exclusions_in_zone(exclude: ScheduleExclusions | None, timezone: str) -> None:
    """Skipped times as whole-second UTC instants (a naive one is a wall time in the zone)."""
    if exclude is None:
        return
    tz = load_timezone(timezone)
    instants: set[dt.datetime] = set()
    for skipped in exclude.skipped:
        aware = skipped if skipped.tzinfo is not None else skipped.replace(tzinfo=tz)
        try:
            check_instant(aware)
        except ValueError as error:
            raise ValueError(f"exclude.skipped: {error}") from None
        instants.add(aware.astimezone(dt.UTC).replace(microsecond=0))
    exclude.skipped = sorted(instants)


def _bound_in_zone(value: dt.datetime | None, timezone: str, name: str) -> dt.datetime | None:
    """A bound as a whole-second aware instant (a naive one is a wall time in the zone, read
    as an ``at`` time is: a skipped wall time moves forward, a repeated one is the first)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        local = value.replace(tzinfo=load_timezone(timezone), fold=0)
        value = local.astimezone(dt.UTC).astimezone(local.tzinfo)
    try:
        check_instant(value)
    except ValueError as error:
        raise ValueError(f"{name} {error}") from None
    return value.replace(microsecond=0)


# Compact schemas: these repeat on every schedule type of every tool an LLM reads.
StartAt = Annotated[
    IsoDatetime | None,
    WithJsonSchema({"type": "string", "format": "date-time", "description": "no fire before"}),
    Field(exclude_if=lambda bound: bound is None),
]
EndAt = Annotated[
    IsoDatetime | None,
    WithJsonSchema({"type": "string", "format": "date-time", "description": "no fire after"}),
    Field(exclude_if=lambda bound: bound is None),
]


# Cron expressions one schedule holds at most.
MAX_EXPRESSIONS = 10


def _check_expressions(value: Any) -> Any:
    """One cron expression, or a list of 1–10; a list item's error names its position."""
    if isinstance(value, str):
        try:
            parse_cron(check_no_nul(value))
        except CronError as error:
            raise ValueError(str(error)) from None
        return value
    if not isinstance(value, list):
        raise ValueError("must be a cron expression, or a list of cron expressions")
    if not 1 <= len(value) <= MAX_EXPRESSIONS:
        raise ValueError(f"a list of 1 to {MAX_EXPRESSIONS} cron expressions, got {len(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ValueError(f"expression {index}: must be a string")
        try:
            parse_cron(check_no_nul(item))
        except CronError as error:
            raise ValueError(f"expression {index} ('{item}'): {error}") from None
    return value


class CronSchedule(BaseModel):
    """Fires at the wall-clock times a 5-field cron expression (any of a list) matches in
    ``timezone``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["cron"]
    expression: Annotated[
        Text | list[Text],
        BeforeValidator(_check_expressions),
        Field(description="5-field cron, or a list of up to 10 (fires at any one's times)"),
    ]
    timezone: TimezoneName = "UTC"
    exclude: Annotated[
        ScheduleExclusions | None, Field(exclude_if=lambda exclude: exclude is None)
    ] = None
    start_at: StartAt = None
    end_at: EndAt = None

    @model_validator(mode="after")
    def _exclusions(self) -> CronSchedule:
        _exclusions_in_zone(self.exclude, self.timezone)
        _check_bounds(self)
        return self

    @property
    def expressions(self) -> tuple[str, ...]:
        """The expression, or each of the list, in order."""
        return (self.expression,) if isinstance(self.expression, str) else tuple(self.expression)


class EverySchedule(BaseModel):
    """Fires every ``interval`` seconds, aligned to the Unix epoch plus ``offset`` as Temporal
    does (Temporal's interval phase): at ``k * interval + offset`` seconds since 1970."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["every"]
    interval: Annotated[
        int,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "integer", "minimum": 1, "maximum": _MAX_INTERVAL_SECONDS},
                    {
                        "type": "string",
                        "pattern": NUL_FREE_PATTERN,
                        "examples": ["30m", "2h", "1h30m"],
                    },
                ],
                "description": "seconds, or a duration string; normalised to seconds",
            }
        ),
    ]
    offset: Annotated[
        int,
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "integer", "minimum": 0, "maximum": _MAX_INTERVAL_SECONDS - 1},
                    {
                        "type": "string",
                        "pattern": NUL_FREE_PATTERN,
                        "examples": ["0s", "1d9h"],
                    },
                ],
                "description": "the phase: seconds added to the epoch alignment, 0 up to "
                "interval - 1 (default 0; normalised to seconds; shown only when not 0)",
            }
        ),
        # Left out of answers when 0, so schedules without a phase answer as they always did.
        Field(exclude_if=lambda offset: offset == 0),
    ] = 0
    timezone: TimezoneName = "UTC"
    exclude: Annotated[
        ScheduleExclusions | None, Field(exclude_if=lambda exclude: exclude is None)
    ] = None
    start_at: StartAt = None
    end_at: EndAt = None

    @model_validator(mode="after")
    def _exclusions(self) -> EverySchedule:
        _exclusions_in_zone(self.exclude, self.timezone)
        _check_bounds(self)
        return self

    @field_validator("interval", mode="before")
    @classmethod
    def _interval_seconds(cls, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int | str):
            raise ValueError("interval must be a number of seconds or a duration like '30m'")
        return parse_duration(check_no_nul(value) if isinstance(value, str) else value)

    @field_validator("offset", mode="before")
    @classmethod
    def _offset_seconds(cls, value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError("offset must be a number of seconds or a duration like '1d9h'")
        if isinstance(value, int) and value < 0:
            raise ValueError("offset must not be negative")
        if value in (0, "0"):
            return 0
        try:
            return parse_duration(check_no_nul(value) if isinstance(value, str) else value)
        except ValueError as error:
            raise ValueError(str(error).replace("interval", "offset")) from None

    @field_validator("offset")
    @classmethod
    def _offset_within_interval(cls, offset: int, info: ValidationInfo) -> int:
        interval = info.data.get("interval")
        if interval is not None and offset >= interval:
            raise ValueError(f"offset {offset}s must be less than the interval ({interval}s)")
        return offset


class AtSchedule(BaseModel):
    """Fires once, at ``datetime``; a naive datetime is a wall time in ``timezone``.

    A naive wall time that a DST change skips is moved forward by the gap, and one that
    happens twice means its first occurrence (Python's ``fold=0``). The time must lie in
    Temporal's calendar years (2000–2100, UTC).
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["at"]
    datetime: IsoDatetime
    timezone: TimezoneName = "UTC"
    start_at: StartAt = None
    end_at: EndAt = None

    @model_validator(mode="after")
    def _datetime_is_aware(self) -> AtSchedule:
        if self.datetime.tzinfo is None or self.datetime.utcoffset() is None:
            local = self.datetime.replace(tzinfo=load_timezone(self.timezone), fold=0)
            # Round-trip through UTC so a skipped wall time lands on a real one.
            self.datetime = local.astimezone(dt.UTC).astimezone(local.tzinfo)
        try:
            check_instant(self.datetime)
        except ValueError as error:
            raise ValueError(f"datetime {error}") from None
        _check_bounds(self)
        if not _within(self, self.datetime.replace(microsecond=0)):
            raise ValueError("datetime is outside start_at … end_at: the schedule would never fire")
        return self


def _check_bounds(schedule: CronSchedule | EverySchedule | AtSchedule) -> None:
    """``start_at`` and ``end_at`` (Temporal's ``ScheduleSpec.start_at`` / ``end_at``, both
    included; docs/time.md, "Start and end") as aware whole-second instants, end after start."""
    zone = schedule.timezone
    schedule.start_at = _bound_in_zone(schedule.start_at, zone, "start_at")
    schedule.end_at = _bound_in_zone(schedule.end_at, zone, "end_at")
    if schedule.start_at is not None and schedule.end_at is not None:
        if schedule.end_at <= schedule.start_at:
            raise ValueError(
                f"end_at {schedule.end_at.isoformat()} must be after start_at "
                f"{schedule.start_at.isoformat()}"
            )


Schedule = Annotated[CronSchedule | EverySchedule | AtSchedule, Field(discriminator="type")]


def check_at_in_future(schedule: AtSchedule, now: dt.datetime) -> None:
    """Refuse a one-off whose time is not after ``now``.

    Raises:
        ValueError: The datetime is now or in the past.
    """
    if schedule.datetime <= now:
        raise ValueError(
            f"datetime {schedule.datetime.isoformat()} is not in the future "
            f"(now is {now.astimezone(schedule.datetime.tzinfo).isoformat()})"
        )


def next_fire_times(
    schedule: CronSchedule | EverySchedule | AtSchedule,
    *,
    after: dt.datetime,
    count: int,
    before: dt.datetime | None = None,
) -> list[dt.datetime]:
    """The next ``count`` times the schedule fires strictly after ``after``.

    Args:
        schedule: The schedule.
        after: A timezone-aware instant.
        count: How many times to return at most.
        before: If given, only fires strictly before this instant (the evaluation stops
            there, so a range costs its own fires only).

    Returns:
        Fire times in ascending order, each expressed in the schedule's timezone; fewer than
        ``count`` when the schedule ends (an ``at`` schedule, its ``end_at``, or Temporal's
        year-2100 horizon). None before its ``start_at`` (Temporal's rule: the start and the
        end are both included).
    """
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("after must be timezone-aware")
    if schedule.start_at is not None:
        # Temporal: from one second before the start, so a fire at the start itself counts.
        after = max(after, schedule.start_at - dt.timedelta(seconds=1))
    return _unbounded_fire_times(schedule, after=after, count=count, before=before)


def _within(schedule: CronSchedule | EverySchedule | AtSchedule, fire: dt.datetime) -> bool:
    """Whether a fire lies within the schedule's start and end (both included)."""
    start, end = schedule.start_at, schedule.end_at
    return (start is None or fire >= start) and (end is None or fire <= end)


def _unbounded_fire_times(
    schedule: CronSchedule | EverySchedule | AtSchedule,
    *,
    after: dt.datetime,
    count: int,
    before: dt.datetime | None = None,
) -> list[dt.datetime]:
    tz = load_timezone(schedule.timezone)
    times: list[dt.datetime] = []
    if count <= 0:
        return times
    if isinstance(schedule, AtSchedule):
        at = schedule.datetime
        return [at.astimezone(tz)] if at > after and (before is None or at < before) else []
    # The last instant a fire may be at: the schedule's own end (included), or before ``before``.
    end = schedule.end_at
    if before is not None:
        last = before - dt.timedelta(microseconds=1)
        end = last if end is None else min(end, last)
    resume_after = _exclusion(schedule)
    if isinstance(schedule, EverySchedule):
        # Temporal: ((after - phase) / interval + 1) * interval + phase, Unix seconds.
        interval, phase = schedule.interval, schedule.offset
        instant = ((math.floor(after.timestamp()) - phase) // interval + 1) * interval + phase
        while len(times) < count:
            when = dt.datetime.fromtimestamp(instant, dt.UTC)
            if when.year > MAX_YEAR or (end is not None and when > end):
                break
            resume = resume_after(when) if resume_after else None
            if resume is None:
                times.append(when.astimezone(tz))
                instant += interval
            else:
                instant = ((math.floor(resume.timestamp()) - phase) // interval + 1) * interval
                instant += phase
        return times
    compiled = [parse_cron(expression) for expression in schedule.expressions]
    current: dt.datetime | None = after
    while len(times) < count and current is not None:
        # Temporal's spec: the earliest next time of any of its calendars, each from ``current``.
        following = [t for c in compiled if (t := c.next_after(current, tz)) is not None]
        current = min(following) if following else None
        if current is None or current.year > MAX_YEAR or (end is not None and current > end):
            break
        resume = resume_after(current) if resume_after else None
        if resume is None:
            times.append(current.astimezone(tz))
        else:
            current = resume
    return times


def _exclusion(
    schedule: CronSchedule | EverySchedule,
) -> Callable[[dt.datetime], dt.datetime | None] | None:
    """For a schedule with exclusions: a function giving, for an excluded fire, an instant
    (not before it) to look for the next fire from, and None for a fire that is kept.

    A fire is excluded as Temporal's exclude calendars match it: by its wall time in the
    schedule's zone (a skipped wall time that happens twice skips both).
    """
    exclude = schedule.exclude
    if exclude is None or exclude.is_empty():
        return None
    tz = load_timezone(schedule.timezone)
    dates = frozenset(exclude.dates)
    walls = frozenset(s.astimezone(tz).replace(tzinfo=None) for s in exclude.skipped)
    calendar = exclude.holidays

    def resume_after(fire: dt.datetime) -> dt.datetime | None:
        local = fire.astimezone(tz)
        day = local.date()
        if day in dates or (calendar is not None and day in holiday_dates(calendar, day.year)):
            # The rest of the local day is excluded too: on from two hours before its end
            # (no zone moves its clock by more), or from the fire itself.
            following = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
            return max(fire, following.astimezone(dt.UTC) - dt.timedelta(hours=2))
        if local.replace(tzinfo=None) in walls:
            return fire
        return None

    return resume_after


def excluded_by(
    schedule: CronSchedule | EverySchedule | AtSchedule, at: dt.datetime
) -> tuple[str, str] | None:
    """Why the schedule's exclusions drop a fire at ``at``: ``("skipped", "")``,
    ``("date", "")`` or ``("holiday", <its name>)``; None when they do not."""
    exclude = getattr(schedule, "exclude", None)
    if exclude is None:
        return None
    tz = load_timezone(schedule.timezone)
    local = at.astimezone(tz)
    if local.replace(tzinfo=None) in {
        s.astimezone(tz).replace(tzinfo=None) for s in exclude.skipped
    }:
        return ("skipped", "")
    if local.date() in exclude.dates:
        return ("date", "")
    if exclude.holidays is not None:
        name = holiday_name(exclude.holidays, local.date())
        if name is not None:
            return ("holiday", name)
    return None


def next_fire_time(
    schedule: CronSchedule | EverySchedule | AtSchedule, *, after: dt.datetime
) -> dt.datetime | None:
    """The first time the schedule fires strictly after ``after``, or None if it never will."""
    times = next_fire_times(schedule, after=after, count=1)
    return times[0] if times else None


# Bounds of a job's own timing (docs/time.md).
MAX_JITTER_SECONDS = 86_400
MIN_CATCHUP_WINDOW_SECONDS = 10  # Temporal's minimum
MAX_CATCHUP_WINDOW_SECONDS = 7 * 86_400
# Fires sampled to find a cron schedule's shortest spacing.
_SPACING_SAMPLE = 500


def shortest_spacing(
    schedule: CronSchedule | EverySchedule | AtSchedule, *, after: dt.datetime
) -> int | None:
    """The shortest time in seconds between two consecutive fires after ``after`` (an
    ``every`` interval exactly; a cron schedule over its next 500 fires), None for a one-off."""
    if isinstance(schedule, AtSchedule):
        return None
    if isinstance(schedule, EverySchedule):
        return schedule.interval
    fires = next_fire_times(schedule, after=after, count=_SPACING_SAMPLE)
    gaps = [int((b - a).total_seconds()) for a, b in zip(fires, fires[1:], strict=False)]
    return min(gaps) if gaps else None


def check_jitter(
    schedule: CronSchedule | EverySchedule | AtSchedule, jitter_seconds: int, *, now: dt.datetime
) -> None:
    """Refuse a jitter that would let a run drift past the schedule's next fire.

    Raises:
        ValueError: The jitter is not shorter than the shortest spacing between fires.
    """
    if jitter_seconds <= 0:
        return
    spacing = shortest_spacing(schedule, after=now)
    if spacing is not None and jitter_seconds >= spacing:
        raise ValueError(
            f"must be shorter than the schedule's shortest spacing between fires ({spacing} s)"
        )


def is_fire_time(schedule: CronSchedule | EverySchedule | AtSchedule, at: dt.datetime) -> bool:
    """Whether Temporal fires the schedule at the instant ``at`` exactly."""
    # In UTC: arithmetic on a zone's wall time would drop the fold of a repeated hour.
    fire = next_fire_time(schedule, after=at.astimezone(dt.UTC) - dt.timedelta(microseconds=1))
    # As instants: Python never finds a time in a repeated hour equal to one in another zone.
    return fire is not None and fire.timestamp() == at.timestamp()


# Excluded fires an ``every`` schedule's look back passes over at most.
_MAX_EXCLUDED_STEPS = 100_000

_LOOK_BACK = [dt.timedelta(minutes=1), dt.timedelta(hours=1), dt.timedelta(days=1)] + [
    dt.timedelta(days=days) for days in (32, 367, 4 * 366)
]


def previous_fire_time(
    schedule: CronSchedule | EverySchedule | AtSchedule, *, before: dt.datetime
) -> dt.datetime | None:
    """The last time the schedule fires strictly before ``before`` (within four years)."""
    if schedule.end_at is not None and before > schedule.end_at:
        before = schedule.end_at + dt.timedelta(microseconds=1)
    found = _previous_unbounded(schedule, before=before)
    if found is None or (schedule.start_at is not None and found < schedule.start_at):
        return None
    return found


def _previous_unbounded(
    schedule: CronSchedule | EverySchedule | AtSchedule, *, before: dt.datetime
) -> dt.datetime | None:
    if isinstance(schedule, AtSchedule):
        return schedule.datetime if schedule.datetime < before else None
    if isinstance(schedule, EverySchedule):
        interval, phase = schedule.interval, schedule.offset
        last = (math.ceil(before.timestamp()) - 1 - phase) // interval * interval + phase
        for _ in range(_MAX_EXCLUDED_STEPS):
            when = dt.datetime.fromtimestamp(last, dt.UTC)
            if when.year < 1970 or excluded_by(schedule, when) is None:
                return when.astimezone(load_timezone(schedule.timezone))
            last -= interval
        return None
    before = before.astimezone(dt.UTC)
    for window in _LOOK_BACK:
        fires = next_fire_times(schedule, after=before - window, count=10_000)
        earlier = [t for t in fires if t.timestamp() < before.timestamp()]
        if earlier:
            return earlier[-1]
    return None
