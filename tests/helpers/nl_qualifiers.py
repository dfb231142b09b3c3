"""Qualifiers appended to the phrase corpus, and how a reading of them is judged; shared by
tests/test_nl_qualifiers.py and bench/parse_nl.py (docs/time.md, "Reading schedules from
English")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Literal

from domain.nl import NotASchedule, parse_text
from domain.schedules import AtSchedule, CronSchedule, EverySchedule, next_fire_times
from domain.timezones import load_timezone
from tests.helpers.nl_corpus import Case, default_zone

AnySchedule = CronSchedule | EverySchedule | AtSchedule
Verdict = Literal["right", "refused", "flagged", "wrong"]


def _no_july(schedule: AnySchedule) -> bool:
    """The first fire from the start of July 2027 (local) is not in July."""
    july = dt.datetime(2027, 7, 1, tzinfo=load_timezone(schedule.timezone))
    first = next_fire_times(schedule, after=july - dt.timedelta(microseconds=1), count=1)
    return bool(first) and first[0].month != 7


def _no_christmas_eve(schedule: AnySchedule) -> bool:
    exclude = getattr(schedule, "exclude", None)
    return exclude is not None and dt.date(2027, 12, 24) in exclude.dates


def _ends_by_march(schedule: AnySchedule) -> bool:
    end = getattr(schedule, "end_at", None)
    return end is not None and end.date() <= dt.date(2027, 3, 31)


def _only_mondays(schedule: AnySchedule) -> bool:
    times = next_fire_times(schedule, after=dt.datetime(2026, 11, 25, tzinfo=dt.UTC), count=50)
    return bool(times) and all(t.weekday() == 0 for t in times)


def _starts_in_january(schedule: AnySchedule) -> bool:
    start = getattr(schedule, "start_at", None)
    return start is not None and start.date() == dt.date(2027, 1, 10)


# Each qualifier, and what a schedule that kept it must do (None: it must be refused or said).
QUALIFIERS: dict[str, Callable[[AnySchedule], bool] | None] = {
    "except in july": _no_july,
    "but not in july": _no_july,
    "skipping july": _no_july,
    "except on 2027-12-24": _no_christmas_eve,
    "until march 31": _ends_by_march,
    "until the end of march": _ends_by_march,
    "only on mondays": _only_mondays,
    "starting jan 10": _starts_in_january,
    "unless it rains": None,
    "if the build is green": None,
    "except christmas": None,
    "except on the penultimate day": None,
    "for the next 3 days": lambda s: getattr(s, "end_at", None) is not None,
    "banana": None,  # a word the parser does not know
}


def judge_qualified(case: Case, qualifier: str, now: dt.datetime) -> Verdict:
    """The corpus phrase with ``qualifier`` appended: ``right`` (the schedule does what the
    qualifier says), ``refused``, ``flagged`` (a warning the plain phrase has not, and a
    confidence of at most 0.5) or ``wrong``."""
    zone = default_zone(case)
    try:
        parsed = parse_text(f"{case[0]} {qualifier}", timezone=zone, now=now)
    except NotASchedule:
        return "refused"
    check = QUALIFIERS[qualifier]
    if check is not None and check(parsed.schedule):
        return "right"
    plain = parse_text(case[0], timezone=zone, now=now)
    if set(parsed.warnings) - set(plain.warnings) and parsed.confidence <= 0.5:
        return "flagged"
    return "wrong"
