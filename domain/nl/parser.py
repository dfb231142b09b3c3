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
from domain.nl.build import dates_as_calendar, one_off, recurring
from domain.nl.lexicon import NotASchedule, tokenize
from domain.nl.rules import AnySchedule, Slots, extract
from domain.schedules import AtSchedule, CronSchedule
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
    schedule["exclude"] = {"holidays": holidays}
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
        schedule = recurring(slots, zone, now)
        penalty += slots.penalty
    if is_one_off:
        penalty += slots.penalty
    confidence = round(max(0.1, min(0.95, 0.95 - penalty)), 2)
    return Parsed(schedule, confidence, slots.notes)


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
