"""Rule-based reading of schedule phrases: tokens → slots → one schedule model.

``lexicon`` canonicalises the words (typos, plurals, zones), ``rules`` fills slots from the
canonical string, ``build`` assembles them into a cron, every or at schedule (or refuses).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from domain.calendars import check_holiday_calendar
from domain.nl.build import add_months, dates_as_calendar, one_off, recurring
from domain.nl.lexicon import NotASchedule, tokenize
from domain.nl.rules import UNIT_SECONDS, AnySchedule, Slots, extract
from domain.schedules import AtSchedule, CronSchedule, next_fire_times
from domain.timezones import TimezoneError, load_timezone

__all__ = ["Parsed", "parse"]

_HOLIDAYS = re.compile(
    r"(?:,\s*)?\b(?:except|excluding|but not|not on|skipping|skip)\s+(?:on\s+)?(?:the\s+)?"
    r"(?:(?P<name>u\.s\.?|[a-z]+(?:-[a-z0-9]{1,3})?)\s+)?"
    r"(?:(?:public|bank|national|federal|statutory)\s+)?holidays?\b"
    r"(?:\s+(?:in|of)\s+(?:the\s+)?(?P<where>[a-z]{2}(?:-[a-z0-9]{1,3})?)\b)?",
    re.IGNORECASE,
)
# What people call a holiday calendar, as the ``holidays`` package names it.
_HOLIDAY_WORDS = {
    "u.s": "US",
    "u.s.": "US",
    "american": "US",
    "federal": "US",
    "uk": "GB",
    "british": "GB",
    "english": "GB-ENG",
    "scottish": "GB-SCT",
    "welsh": "GB-WLS",
    "german": "DE",
    "french": "FR",
    "canadian": "CA",
    "australian": "AU",
}
_KINDS = frozenset({"public", "bank", "national", "statutory", "the", "all"})
_RAW_CRON = re.compile(r"\s*(?:@[a-z]+|(?:[\d*/,\-a-zA-Z]+\s+){4}[\d*/,\-a-zA-Z]+)\s*")
_RAW_CRON_FIELD = re.compile(r"[\d*/,\-]+|[a-zA-Z]{3}(?:-[a-zA-Z]{3})?(?:,[a-zA-Z]{3})*")


# A parse with a guess in it (a reading chosen among several, said in a warning) is never
# surer than this (docs/time.md, "Reading schedules from English").
GUESS_CONFIDENCE = 0.5


@dataclass
class Parsed:
    schedule: AnySchedule
    confidence: float
    notes: list[str] = field(default_factory=list)


def parse(text: str, zone: str, now: dt.datetime) -> Parsed:
    """The schedule a phrase means and the confidence in that reading."""
    if not text or not text.strip():
        raise NotASchedule("the text is empty")
    if len(text) > 500:
        raise NotASchedule("the text is too long for a schedule (500 characters at most)")
    try:
        load_timezone(zone)
    except TimezoneError as error:
        raise NotASchedule(str(error)) from None
    if now.tzinfo is None or now.utcoffset() is None:
        now = now.replace(tzinfo=load_timezone(zone))
    raw = _raw_cron(text, zone)
    if raw is not None:
        return Parsed(raw, 0.9)
    text, holidays = _holidays(text)
    parsed = _parse_words(text, zone, now)
    if holidays is None:
        return parsed
    if isinstance(parsed.schedule, AtSchedule):
        raise NotASchedule("a one-off fires once: it has no holidays to skip")
    schedule = parsed.schedule.model_dump()
    schedule["exclude"] = {**schedule.get("exclude", {}), "holidays": holidays}
    parsed.schedule = type(parsed.schedule).model_validate(schedule)
    return parsed


def _holidays(text: str) -> tuple[str, str | None]:
    """The text without its "except US holidays", and the holiday calendar it names."""
    match = _HOLIDAYS.search(text)
    if match is None:
        return text, None
    said = match["where"] or match["name"]
    if said is None or said.lower() in _KINDS:
        raise NotASchedule(
            "say which holidays to skip, e.g. 'except US holidays' or 'except holidays in "
            "DE-BY' (a country code, optionally with a region)"
        )
    try:
        calendar = check_holiday_calendar(_HOLIDAY_WORDS.get(said.lower(), said))
    except ValueError as error:
        raise NotASchedule(str(error)) from None
    return f"{text[: match.start()]} {text[match.end() :]}", calendar


def _parse_words(text: str, zone: str, now: dt.datetime) -> Parsed:
    lexed = tokenize(text)
    zone = lexed.zone or zone
    slots = Slots(text=" ".join(lexed.tokens))
    slots.recurring_hint = lexed.plural_days
    extract(slots, lexed.tokens)
    penalty = 0.1 * lexed.typos + (0.1 if lexed.ambiguous_date else 0.0)
    is_one_off = bool(
        slots.delta is not None
        or slots.day_offset is not None
        or slots.next_weekday is not None
        or (slots.dates and (any(y for y, _, _ in slots.dates) or not slots.recurring_hint))
    )
    schedule: AnySchedule
    if is_one_off:
        schedule = one_off(slots, zone, now)
    else:
        if slots.dates:
            dates_as_calendar(slots)
        has_calendar = slots.dows or slots.doms or slots.months or slots.nth
        if not slots.recurring_hint and slots.interval is None:
            if not slots.times and not has_calendar:
                raise NotASchedule(
                    "no schedule found: say when, e.g. 'every day at 9am', 'every 15 minutes' "
                    "or 'tomorrow at 3pm'"
                )
            penalty += 0.2  # "friday at 10" or "at 3pm": read as repeating, a guess
            slots.guesses.append(
                "read as repeating (no 'every' was said); say 'every …' to confirm, or "
                "'this …' / a date for once"
            )
        schedule = recurring(slots, zone, now)
        penalty += slots.penalty
    if is_one_off:
        penalty += slots.penalty
    if lexed.ambiguous_date:
        slots.guesses.append(
            "a date written with slashes is read month first (US order), e.g. 03/04 as March 4"
        )
    schedule = _excluding_dates(schedule, slots)
    try:
        schedule = _bounded(schedule, slots, zone, now)
    except NotASchedule:
        raise
    except (ValueError, OverflowError):  # a date past what datetimes hold ("until 9999 …")
        raise NotASchedule("the start or end is too far away to schedule") from None
    confidence = round(max(0.1, min(0.95, 0.95 - penalty)), 2)
    if slots.guesses:
        confidence = min(confidence, GUESS_CONFIDENCE)
    return Parsed(schedule, confidence, slots.notes + slots.guesses)


def _excluding_dates(schedule: AnySchedule, slots: Slots) -> AnySchedule:
    """ "except on 2027-12-24": the schedule's ``exclude.dates`` (local dates in its zone)."""
    if not slots.excluded_dates:
        return schedule
    if isinstance(schedule, AtSchedule):
        raise NotASchedule("a one-off fires once: it has no dates to skip")
    try:
        dates = [dt.date(*ymd).isoformat() for ymd in slots.excluded_dates]
    except ValueError:
        raise NotASchedule("an excluded date is not a date") from None
    data = schedule.model_dump()
    data["exclude"] = {**(data.get("exclude") or {}), "dates": dates}
    return type(schedule).model_validate(data)


def _bound_day(
    bound: tuple[str, tuple[object, ...]], zone: str, now: dt.datetime, *, end: bool
) -> dt.datetime:
    """The instant a bound names: a date's start (its end for an end bound, which includes
    the day), a date's given time, the start of a month (its end after 'end of')."""
    tz = load_timezone(zone)
    today = now.astimezone(tz).date()
    kind, value = bound
    if kind == "day":
        (ahead,) = value
        assert isinstance(ahead, int)
        day = today + dt.timedelta(days=ahead)
        return _edge(day, None, tz, end=end)
    if kind == "date":
        year, month, day_number, clock = value
        assert isinstance(year, int) and isinstance(month, int) and isinstance(day_number, int)
        assert clock is None or isinstance(clock, tuple)
        for candidate in [year] if year else [today.year, today.year + 1]:
            try:
                day = dt.date(candidate, month, day_number)
            except ValueError:
                raise NotASchedule(f"{month}/{day_number} is not a date") from None
            if year or day >= today:
                return _edge(day, clock, tz, end=end)
        raise AssertionError("unreachable")  # pragma: no cover
    year, month = value
    assert isinstance(year, int) and isinstance(month, int)
    if not year:
        if month == today.month:
            name = dt.date(2001, month, 1).strftime("%B")
            raise NotASchedule(
                f"it is {name} now: say which {name}, e.g. '{name} {today.year + 1}'"
            )
        year = today.year + (month < today.month)
    first = dt.date(year, month, 1)
    if kind == "end of month":
        following = dt.date(year + month // 12, month % 12 + 1, 1)
        return _edge(following - dt.timedelta(days=1), None, tz, end=True)
    begins = dt.datetime.combine(first, dt.time(), tz)
    return begins - dt.timedelta(seconds=1) if end else begins


def _edge(day: dt.date, clock: tuple[int, int] | None, tz: dt.tzinfo, *, end: bool) -> dt.datetime:
    if clock is not None:
        return dt.datetime.combine(day, dt.time(*clock), tz)
    if end:
        return dt.datetime.combine(day, dt.time(23, 59, 59), tz)
    return dt.datetime.combine(day, dt.time(), tz)


def _bounded(schedule: AnySchedule, slots: Slots, zone: str, now: dt.datetime) -> AnySchedule:
    """The schedule with the start and end its words name ("until march 31", "starting
    tomorrow", "for the next 3 days", "from may 1 to may 10"): Temporal's start_at / end_at."""
    if slots.start_bound is None and slots.end_bound is None:
        return schedule
    if isinstance(schedule, AtSchedule):
        raise NotASchedule("a one-off fires once: it has no start or end to bound it")
    zone = schedule.timezone
    start = None
    if slots.start_bound is not None:
        start = _bound_day(slots.start_bound, zone, now, end=False)
    end: dt.datetime | None = None
    if slots.end_bound is not None and slots.end_bound[0] == "for":
        amount, unit = slots.end_bound[1]
        assert isinstance(amount, float | int) and isinstance(unit, str)
        if amount != int(amount) or amount < 1:
            raise NotASchedule(f"'for {amount:g} {unit}s' is not a whole number of {unit}s")
        begin = (start or now).astimezone(load_timezone(zone)).replace(microsecond=0)
        if unit in ("month", "year"):
            months = int(amount) * (12 if unit == "year" else 1)
            end = dt.datetime.combine(add_months(begin.date(), months), begin.timetz())
        else:
            end = begin + dt.timedelta(seconds=int(amount) * UNIT_SECONDS[unit])
    elif slots.end_bound is not None and slots.end_before:
        end = _bound_day(slots.end_bound, zone, now, end=False) - dt.timedelta(seconds=1)
    elif slots.end_bound is not None:
        if slots.end_bound[0] == "month":
            first = _bound_day(slots.end_bound, zone, now, end=True) + dt.timedelta(seconds=1)
            slots.guesses.append(
                f"'until {first:%B}' is read as up to the start of {first:%B} {first.year} "
                f"(nothing fires in {first:%B}); say 'until the end of {first:%B}' to include it"
            )
        end = _bound_day(slots.end_bound, zone, max(now, start or now), end=True)
    if end is not None and end <= now:
        raise NotASchedule(f"the schedule would end in the past ({end:%Y-%m-%d %H:%M} {zone})")
    data = schedule.model_dump()
    data.update(start_at=start, end_at=end)
    bounded = type(schedule).model_validate(data)
    if not next_fire_times(bounded, after=now, count=1):
        raise NotASchedule("nothing fires between the schedule's start and its end")
    return bounded


def _raw_cron(text: str, zone: str) -> CronSchedule | None:
    """A cron expression typed as is ("0 9 * * 1-5", "@daily")."""
    if not _RAW_CRON.fullmatch(text):
        return None
    stripped = text.strip()
    if not stripped.startswith("@") and not all(
        _RAW_CRON_FIELD.fullmatch(part) for part in stripped.split()
    ):
        return None
    if not any(ch in stripped for ch in "*@") and not stripped.split()[0].isdigit():
        return None
    try:
        return CronSchedule(type="cron", expression=stripped, timezone=zone)
    except ValidationError as error:
        raise NotASchedule(str(error.errors()[0]["msg"]).removeprefix("Value error, ")) from None
