"""Natural-language schedules: "every weekday at 9am Pacific" → a schedule model.

Pure and rule based (no I/O, no wall clock: ``now`` is passed in), well under a millisecond a
phrase. ``parse_text`` answers a valid ``CronSchedule``, ``EverySchedule`` or ``AtSchedule``
with a human description and a confidence, or raises ``NotASchedule`` saying why.

Readings worth knowing (see also the tests' corpus):

- "During business hours" is Monday–Friday 09:00–17:00 ("every 15 minutes during business
  hours" is ``*/15 9-16 * * 1-5``) unless the text names other days.
- "every other friday", "biweekly on monday at 9am", "every 2 weeks on friday": an ``every``
  interval of whole weeks with a phase (Temporal's interval offset) putting the first fire on
  the next such day and time; the answer's ``warnings`` say from when, and that an interval
  does not follow DST in a zone that has it.
- Time windows are half open, whole hours: "every 15 minutes between 9 and 5" fires from 09:00
  up to 16:45 (``*/15 9-16``); the end hour itself is not included. A window end without am/pm
  that is not after the start is read as pm ("between 9 and 5" = 9:00–17:00).
- Intervals that divide an hour (minutes) or a day (hours) become cron steps in the zone
  (``*/15 * * * *``, ``0 */2 * * *``); others ("every 90 minutes", "every 7 hours", seconds,
  several days or weeks) become ``every`` intervals, which Temporal aligns to the Unix epoch.
- A clock time without am/pm is read as written on a 24-hour clock ("at 9" = 09:00) unless the
  text says evening/afternoon/night/tonight; that is a guess (below).
- Every word is used, refused or said (docs/time.md, "Every word used, refused or said"):
  exclusions and "only" restrict the days and months, "until …", "starting …", "for the next
  N days" set ``start_at`` / ``end_at``; conditions ("unless …") and words of the grammar no
  rule could use are refused; unknown words are left out and named in ``warnings``.
- A guess (an implicit am/pm, "twice a day", "every other day at 6am", an unknown word …) is
  named in ``warnings`` and caps the confidence at 0.5.
- Repeating schedules with no time fire at midnight (as ``@daily``); one-offs with a date but
  no time also at midnight; both lower the confidence.
- "next friday" is the Friday of next week (weeks start on Monday): said on a Wednesday it is
  nine days away, and ``warnings`` says so and that "this friday" means the one in two days;
  "this friday" (or "coming friday") is the first Friday to come and may be today. A lone weekday
  ("friday at 10") is read as weekly with a lower confidence; a date without a year and without
  "every" is a one-off at its next occurrence.
- Abbreviations name a region's zone, not a fixed offset ("PST" in July is Los Angeles time).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, ValidationError

from domain.nl.describe import describe
from domain.nl.lexicon import NotASchedule, zone_words
from domain.nl.parser import parse
from domain.schedules import AtSchedule, CronSchedule, EverySchedule, next_fire_times

__all__ = ["NotASchedule", "ParsedText", "describe", "parse_text"]


class ParsedText(BaseModel):
    """What a phrase means, in words, and how sure the parser is (0–1)."""

    schedule: CronSchedule | EverySchedule | AtSchedule
    human_readable: str
    confidence: float = Field(ge=0, le=1)
    warnings: list[str] = Field(
        default_factory=list,
        description="Readings to confirm with the user: a guess (an am/pm, 'next friday', "
        "'every other day', a word left out), the start and DST behaviour of an every-N-weeks "
        "interval.",
    )


def parse_text(text: str, *, timezone: str = "UTC", now: datetime) -> ParsedText:
    """Read a schedule phrase.

    Args:
        text: The phrase, e.g. "every weekday at 9am Pacific" or "tomorrow at 3pm".
        timezone: The caller's zone, used unless the text names one.
        now: The current instant (aware; a naive one is read in ``timezone``); relative
            phrases count from it and one-offs must be after it.

    Returns:
        The schedule, its description and the confidence: 0.95 when every word was used and
        nothing guessed, lower for defaults and repaired typos, at most 0.5 with a guess
        (which ``warnings`` names).

    Raises:
        NotASchedule: The text is not a schedule, or asks for an impossible one; the message
            says why.
    """
    try:
        parsed = parse(text, timezone, now)
    except ValidationError as error:
        # A schedule the words spell but the model refuses (past Temporal's years, an interval
        # over 100 years): the model's reason is the refusal.
        raise NotASchedule(str(error.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    except OverflowError:
        raise NotASchedule("that time is too far away to schedule") from None
    human = describe(parsed.schedule)
    if isinstance(parsed.schedule, EverySchedule) and parsed.schedule.offset:
        (first,) = next_fire_times(parsed.schedule, after=now, count=1)
        human += (
            f", next on {first:%A, %B} {first.day}, {first.year} at {first:%I:%M %p}, "
            f"{zone_words(parsed.schedule.timezone)}"
        )
    return ParsedText(
        schedule=parsed.schedule,
        human_readable=human,
        confidence=parsed.confidence,
        warnings=parsed.notes,
    )
