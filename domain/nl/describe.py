"""Human text for any schedule: cron-descriptor's wording plus the zone in words."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import lru_cache

from cron_descriptor import get_description

from domain.cron import SHORTCUTS, parse_cron
from domain.nl.lexicon import zone_words
from domain.schedules import AtSchedule, CronSchedule, EverySchedule, ScheduleExclusions
from domain.timezones import load_timezone

__all__ = ["describe"]

_UNITS = ((604800, "week"), (86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


@lru_cache(maxsize=1024)
def _cron_text(expression: str) -> str:
    expression = SHORTCUTS.get(expression.strip().lower(), expression)
    if parse_cron(expression).day_forms:
        return _day_forms_text(" ".join(expression.split()))
    text = str(get_description(expression))
    # Temporal fires only when day of month and weekday both match (classic cron: either).
    return text.replace(", or on ", ", if that day is a ")


_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_NTH = ("first", "second", "third", "fourth", "fifth")


def _listed(items: list[str], joiner: str = "and") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {joiner} {items[-1]}"


def _day_of_month_item(item: str) -> str:
    upper = item.upper()
    if upper == "L":
        return "the last day"
    if upper == "LW":
        return "the last weekday"
    if upper == "L-1":
        return "the second-to-last day"
    if upper.startswith("L-"):
        return f"{int(upper[2:])} days before the last day"
    if upper.endswith("W"):
        return f"the weekday nearest day {int(upper[:-1])}"
    return f"day {item}" if item.isdigit() else f"days {item.replace('-', '–')}"


def _day_of_week_item(item: str) -> str:
    """``5L``, ``TUE#2`` or plain days (``1-5``: "Monday through Friday")."""
    form = re.fullmatch(r"(.+?)(L|#(\d))", item, re.IGNORECASE)
    if form is None:
        days = sorted(parse_cron(f"0 0 * * {item}").days_of_week)
        if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
            return f"{_DAY_NAMES[days[0]]} through {_DAY_NAMES[days[-1]]}"
        return _listed([_DAY_NAMES[d] for d in days], "or")
    (weekday,) = parse_cron(f"0 0 * * {form[1]}").days_of_week
    name = _DAY_NAMES[weekday]
    return f"the last {name}" if form[3] is None else f"the {_NTH[int(form[3]) - 1]} {name}"


def _day_forms_text(expression: str) -> str:
    """Cron-descriptor's words for the time and months, ours for the L, W and # days."""
    minute, hour, day_of_month, month, day_of_week = expression.split()
    time = str(get_description(f"{minute} {hour} * * *"))
    months = str(get_description(f"0 0 * {month} *")).removeprefix("At 12:00 AM")
    if re.search("[LW]", day_of_month, re.IGNORECASE):
        days = [_day_of_month_item(item) for item in day_of_month.split(",")]
        condition = ""
        if day_of_week != "*":
            condition = f", if that day is a {_day_of_week_item(day_of_week)}"
        return f"{time}, on {_listed(days)} of the month{condition}{months}"
    items = day_of_week.split(",")
    forms = [item for item in items if re.search("[L#]", item, re.IGNORECASE)]
    days = [_day_of_week_item(item) for item in forms]
    plain = [item for item in items if item not in forms]
    text = f"{time}, on {_listed(days)} of the month"
    if plain:
        text += f" and every {_listed([_day_of_week_item(item) for item in plain])}"
    if day_of_month != "*":
        text += f", if that day is day {day_of_month.replace('-', '–')} of the month"
    return text + months


def _every_text(seconds: int) -> str:
    for size, name in _UNITS:
        if seconds % size == 0 and (seconds // size >= 1):
            count = seconds // size
            if size == 604800 and count == 1:
                return "Every week"
            return f"Every {name}" if count == 1 else f"Every {count} {name}s"
    return f"Every {seconds} seconds"  # pragma: no cover - 1 divides everything


def _phase_text(interval: int, offset: int) -> str:
    """Where an interval's offset puts its fires, in UTC (an interval does not follow a zone's
    clock): ", on Friday at 04:00 PM UTC" for whole weeks, ", at 04:00 PM UTC" for whole days."""
    if not offset and interval % 86400:
        return ""
    # Whole days fire at a UTC time of day, midnight without an offset: said, as a zone's
    # midnight would be a different instant.
    first = dt.datetime.fromtimestamp(offset, dt.UTC)
    clock = f"{first:%I:%M %p}" + (f":{first:%S}" if first.second else "")
    if interval % 604800 == 0:
        return f", on {first:%A} at {clock} UTC"
    if interval % 86400 == 0:
        return f", at {clock} UTC"
    if interval % 3600 == 0 and offset < 3600:
        return f", at {offset // 60} minutes {offset % 60} seconds past the hour".replace(
            " 0 seconds", ""
        )
    return f", {offset} seconds after each multiple of the interval since 1970-01-01 UTC"


def _lower_after_first(texts: Iterable[str]) -> list[str]:
    """Each expression's text, all but the first starting in lower case ("…; and at 11:00")."""
    return [text if i == 0 else text[:1].lower() + text[1:] for i, text in enumerate(texts)]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _except_text(exclude: ScheduleExclusions | None) -> str:
    """ ", except on US holidays, 2 listed dates and 1 skipped fire" (empty with none)."""
    if exclude is None or exclude.is_empty():
        return ""
    parts = []
    if exclude.holidays:
        parts.append(f"{exclude.holidays} holidays")
    if exclude.dates:
        parts.append(
            exclude.dates[0].isoformat()
            if len(exclude.dates) == 1
            else _plural(len(exclude.dates), "listed date")
        )
    if exclude.skipped:
        parts.append(_plural(len(exclude.skipped), "skipped fire"))
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f", except on {listed}"


def _moment(instant: dt.datetime, zone: str, *, end: bool) -> str:
    """A bound as a local date ("2027-03-10": from its start, or until its end) or a local
    date and time."""
    local = instant.astimezone(load_timezone(zone))
    edge = dt.time(23, 59, 59) if end else dt.time()
    if local.time() == edge:
        return local.date().isoformat()
    return f"{local:%Y-%m-%d %H:%M}" + (f":{local:%S}" if local.second else "")


def _bounds_text(schedule: CronSchedule | EverySchedule) -> str:
    """ ", from 2027-03-01 until 2027-03-10 14:00" (empty without bounds)."""
    parts = []
    if schedule.start_at is not None:
        parts.append(f"from {_moment(schedule.start_at, schedule.timezone, end=False)}")
    if schedule.end_at is not None:
        parts.append(f"until {_moment(schedule.end_at, schedule.timezone, end=True)}")
    return f", {' '.join(parts)}" if parts else ""


def describe(schedule: CronSchedule | EverySchedule | AtSchedule) -> str:
    """Human text for a schedule, e.g. "At 09:00 AM, Monday through Friday, Pacific Time"."""
    if isinstance(schedule, CronSchedule):
        return (
            f"{'; and '.join(_lower_after_first(map(_cron_text, schedule.expressions)))}, "
            f"{zone_words(schedule.timezone)}"
            f"{_except_text(schedule.exclude)}"
            f"{_bounds_text(schedule)}"
        )
    if isinstance(schedule, EverySchedule):
        bounds = _bounds_text(schedule)
        return (
            _every_text(schedule.interval)
            + _phase_text(schedule.interval, schedule.offset)
            + _except_text(schedule.exclude)
            # The bounds are local times: the zone is said with them.
            + (f"{bounds}, {zone_words(schedule.timezone)}" if bounds else "")
        )
    local = schedule.datetime.astimezone(load_timezone(schedule.timezone))
    return (
        f"Once, at {local:%I:%M %p} on {local:%A, %B} {local.day}, {local.year}, "
        f"{zone_words(schedule.timezone)}"
    )
