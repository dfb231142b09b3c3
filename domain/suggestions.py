"""Schedule suggestions from an owner's activity: robust statistics over days, no I/O.

Each *active day* (at least ``MIN_EVENTS_PER_DAY`` events) gives its first and last activity and
its events per hour; the typical start and end of the working day are the medians of those over
the active weekdays, the peak is the hour with the highest median count, and weekends are judged
separately. A single busy day cannot move any of them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from statistics import median, median_low

MIN_EVENTS_PER_DAY = 3
MIN_ACTIVE_WEEKDAYS = 5
MIN_ACTIVE_WEEKEND_DAYS = 2
LEAD_MINUTES = 5
PEAK_LEAD_MINUTES = 15


@dataclass(frozen=True)
class Suggestion:
    """One suggested time: ``minute`` of the local day, on ``days`` (cron day-of-week field)."""

    minute: int
    days: str
    cron_days: str
    reason: str

    @property
    def time(self) -> str:
        """``HH:MM``."""
        return _hhmm(self.minute)

    @property
    def cron(self) -> str:
        """A 5-field cron expression firing at this time on these days."""
        return f"{self.minute % 60} {self.minute // 60} * * {self.cron_days}"


@dataclass(frozen=True)
class Suggestions:
    """The suggestions, or none and a note saying why."""

    suggestions: list[Suggestion]
    note: str | None


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def suggest(events: list[datetime], window: list[date]) -> Suggestions:
    """Suggestions from local-time ``events`` observed over the local dates of ``window``.

    Args:
        events: The owner's activity as naive or aware *local* datetimes.
        window: Every local date the events were collected over (weekends are judged against the
            weekend days in it).
    """
    by_day: dict[date, list[int]] = defaultdict(list)
    for at in events:
        by_day[at.date()].append(at.hour * 60 + at.minute)
    active = {
        day: sorted(minutes)
        for day, minutes in by_day.items()
        if len(minutes) >= MIN_EVENTS_PER_DAY
    }
    weekdays = {d: m for d, m in active.items() if d.weekday() < 5}
    weekend = {d: m for d, m in active.items() if d.weekday() >= 5}
    if len(weekdays) < MIN_ACTIVE_WEEKDAYS:
        return Suggestions(
            [],
            f"Not enough activity yet: {len(weekdays)} active weekday(s) in the last "
            f"{len(window)} days (a day is active with at least {MIN_EVENTS_PER_DAY} events); "
            f"suggestions need {MIN_ACTIVE_WEEKDAYS}.",
        )
    n = len(weekdays)
    start = median_low([m[0] for m in weekdays.values()])
    end = median_low([m[-1] for m in weekdays.values()])
    found = [
        Suggestion(
            max(start - LEAD_MINUTES, 0),
            "Mon-Fri",
            "1-5",
            f"{LEAD_MINUTES} min before your typical start of day "
            f"(median first activity {_hhmm(start)} over {n} active weekdays)",
        ),
        Suggestion(
            end,
            "Mon-Fri",
            "1-5",
            f"end of your typical work day (median last activity {_hhmm(end)} over {n} active "
            "weekdays)",
        ),
    ]
    peak = _peak_hour(list(weekdays.values()))
    if peak is not None:
        hour, typical = peak
        minute = max(hour * 60 - PEAK_LEAD_MINUTES, 0)
        if all(s.minute != minute for s in found):
            found.append(
                Suggestion(
                    minute,
                    "Mon-Fri",
                    "1-5",
                    f"{PEAK_LEAD_MINUTES} min before your busiest hour, {_hhmm(hour * 60)}–"
                    f"{_hhmm((hour + 1) % 24 * 60)} (median {_number(typical)} events on "
                    "active weekdays)",
                )
            )
    weekend_days = sum(1 for d in window if d.weekday() >= 5)
    if len(weekend) >= MIN_ACTIVE_WEEKEND_DAYS and 2 * len(weekend) >= weekend_days:
        weekend_start = median_low([m[0] for m in weekend.values()])
        found.append(
            Suggestion(
                max(weekend_start - LEAD_MINUTES, 0),
                "Sat-Sun",
                "0,6",
                f"{LEAD_MINUTES} min before your typical weekend start (median first activity "
                f"{_hhmm(weekend_start)} on {len(weekend)} of {weekend_days} weekend days)",
            )
        )
    found.sort(key=lambda s: (s.cron_days != "1-5", s.minute))
    return Suggestions(found, None)


def _peak_hour(days: list[list[int]]) -> tuple[int, float] | None:
    """The hour with the highest median event count over ``days`` (earliest on a tie)."""
    counts = []
    for minutes in days:
        per_hour = [0] * 24
        for minute in minutes:
            per_hour[minute // 60] += 1
        counts.append(per_hour)
    medians = [median([c[hour] for c in counts]) for hour in range(24)]
    best = max(medians)
    if best <= 0:
        return None
    hour = medians.index(best)
    return hour, best


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
