"""Human text for any schedule: cron-descriptor's wording plus the zone in words."""

from __future__ import annotations

from functools import lru_cache

from cron_descriptor import get_description

from domain.cron import SHORTCUTS
from domain.nl.lexicon import zone_words
from domain.schedules import AtSchedule, CronSchedule, EverySchedule
from domain.timezones import load_timezone

__all__ = ["describe"]

_UNITS = ((604800, "week"), (86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


@lru_cache(maxsize=1024)
def _cron_text(expression: str) -> str:
    text = str(get_description(SHORTCUTS.get(expression.strip().lower(), expression)))
    # Temporal fires only when day of month and weekday both match (classic cron: either).
    return text.replace(", or on ", ", if that day is a ")


def _every_text(seconds: int) -> str:
    for size, name in _UNITS:
        if seconds % size == 0 and (seconds // size >= 1):
            count = seconds // size
            if size == 604800 and count == 1:
                return "Every week"
            return f"Every {name}" if count == 1 else f"Every {count} {name}s"
    return f"Every {seconds} seconds"  # pragma: no cover - 1 divides everything


def describe(schedule: CronSchedule | EverySchedule | AtSchedule) -> str:
    """Human text for a schedule, e.g. "At 09:00 AM, Monday through Friday, Pacific Time"."""
    if isinstance(schedule, CronSchedule):
        return f"{_cron_text(schedule.expression)}, {zone_words(schedule.timezone)}"
    if isinstance(schedule, EverySchedule):
        return _every_text(schedule.interval)
    local = schedule.datetime.astimezone(load_timezone(schedule.timezone))
    return (
        f"Once, at {local:%I:%M %p} on {local:%A, %B} {local.day}, {local.year}, "
        f"{zone_words(schedule.timezone)}"
    )
