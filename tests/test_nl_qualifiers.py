"""English schedules with qualifiers (docs/time.md, "Reading schedules from English"): every
word is used, refused or said; exclusions, bounds and ordinals mean what they say; guesses come
with a warning and a confidence of at most 0.5; a description reads back as its schedule."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from domain.nl import NotASchedule, ParsedText, describe, parse_text
from domain.nl.lexicon import FILLER, tokenize
from domain.schedules import AtSchedule, CronSchedule, EverySchedule, next_fire_times
from tests.helpers.nl_corpus import CASES, default_zone, now_for
from tests.helpers.nl_qualifiers import QUALIFIERS, judge_qualified

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)  # a Wednesday
SUMMER = dt.datetime(2027, 7, 1, tzinfo=dt.UTC)


def fires(parsed: ParsedText, count: int = 400, after: dt.datetime = NOW) -> list[dt.datetime]:
    return next_fire_times(parsed.schedule, after=after, count=count)


def instants(
    schedule: CronSchedule | EverySchedule | AtSchedule, count: int = 40
) -> list[dt.datetime]:
    """Fire instants from now and from a summer date (zones and DST told apart)."""
    return [
        t.astimezone(dt.UTC)
        for start in (NOW, SUMMER)
        for t in next_fire_times(schedule, after=start, count=count)
    ]


# --- the phrases of the report, and their kin ---------------------------------------------


def test_except_in_august_keeps_every_other_month() -> None:
    parsed = parse_text("every monday at 9am except in august", now=NOW)
    times = fires(parsed)
    assert {t.month for t in times} == set(range(1, 13)) - {8}
    assert all(t.weekday() == 0 and t.hour == 9 for t in times)
    assert parsed.confidence >= 0.9 and parsed.warnings == []
    assert "August" not in parsed.human_readable.split("through July")[0]
    for text in ("every monday at 9am excluding august", "every monday at 9am but not in aug"):
        assert parse_text(text, now=NOW).schedule == parsed.schedule


def test_dates_with_a_year_are_excluded_dates() -> None:
    parsed = parse_text("every day at 9am except on 2026-12-24 and dec 31 2026", now=NOW)
    assert isinstance(parsed.schedule, CronSchedule) and parsed.schedule.exclude is not None
    days = {t.date() for t in fires(parsed, 60)}
    assert dt.date(2026, 12, 23) in days and dt.date(2026, 12, 25) in days
    assert not days & {dt.date(2026, 12, 24), dt.date(2026, 12, 31)}
    assert parsed.confidence >= 0.9 and parsed.warnings == []
    # Without a year the date would repeat: no exclusion holds it.
    with pytest.raises(NotASchedule, match="'except'"):
        parse_text("every day at 9am except dec 25", now=NOW)


def test_until_a_month_ends_before_it_and_says_so() -> None:
    parsed = parse_text("every day at 7am until march", now=NOW)
    times = fires(parsed)
    assert times[0] == dt.datetime(2026, 11, 26, 7, tzinfo=dt.UTC)
    assert times[-1] == dt.datetime(2027, 2, 28, 7, tzinfo=dt.UTC)
    assert parsed.confidence <= 0.5 and "until the end of March" in parsed.warnings[0]
    through = parse_text("every day at 7am until the end of march", now=NOW)
    assert fires(through)[-1] == dt.datetime(2027, 3, 31, 7, tzinfo=dt.UTC)
    assert through.confidence >= 0.9
    before = parse_text("every day at 7am before march", now=NOW)
    assert fires(before)[-1] == dt.datetime(2027, 2, 28, 7, tzinfo=dt.UTC)
    assert before.warnings == []
    dated = parse_text("every day at 7am until march 5", now=NOW)
    assert fires(dated)[-1] == dt.datetime(2027, 3, 5, 7, tzinfo=dt.UTC)
    assert dated.human_readable.endswith("until 2027-03-05")


def test_bounds_from_start_to_end_and_for_the_next_days() -> None:
    ranged = parse_text("every weekday at 9am from march 1 to march 10", now=NOW)
    assert [t.day for t in fires(ranged)] == [1, 2, 3, 4, 5, 8, 9, 10]
    starting = parse_text("every day at 9am starting tomorrow", now=NOW)
    assert fires(starting, 1)[0] == dt.datetime(2026, 11, 26, 9, tzinfo=dt.UTC)
    later = parse_text("every day at 9am starting 2027-01-10", timezone="Asia/Tokyo", now=NOW)
    assert fires(later, 1)[0].isoformat() == "2027-01-10T09:00:00+09:00"
    three = parse_text("every day at 9am for the next 3 days", now=NOW)
    assert [t.day for t in fires(three)] == [26, 27, 28]
    hourly = parse_text("every hour for 2 days", now=NOW)
    assert len(fires(hourly)) == 48


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("on the final day of every month at 6 pm", ["2026-11-30", "2026-12-31", "2027-01-31"]),
        ("on the last day of the month at 6pm", ["2026-11-30", "2026-12-31", "2027-01-31"]),
        ("on the penultimate day of the month at 9am", ["2026-11-29", "2026-12-30", "2027-01-30"]),
        ("second to last day of every month at 9am", ["2026-11-29", "2026-12-30", "2027-01-30"]),
        ("on the first day of the month at 8am", ["2026-12-01", "2027-01-01", "2027-02-01"]),
        ("the fourth friday of every month at 10am", ["2026-11-27", "2026-12-25", "2027-01-22"]),
        ("the first monday of the month at 9am", ["2026-12-07", "2027-01-04", "2027-02-01"]),
        ("the final friday of the month at 5pm", ["2026-11-27", "2026-12-25", "2027-01-29"]),
    ],
)
def test_ordinals_mean_what_they_say(text: str, days: list[str]) -> None:
    parsed = parse_text(text, now=NOW)
    assert [t.date().isoformat() for t in fires(parsed, 3)] == days
    assert parsed.warnings == [] and parsed.confidence >= 0.9
    # February too: the penultimate day of February 2028 is the 28th (a leap year).
    if "penultimate" in text or "second to last" in text:
        leap = next_fire_times(
            parsed.schedule, after=dt.datetime(2028, 2, 1, tzinfo=dt.UTC), count=1
        )
        assert leap[0].date() == dt.date(2028, 2, 28)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("every day at 9am unless it rains", "condition"),
        ("every day at 9am if it is sunny", "condition"),
        ("every day at 9am except christmas", "'except'"),
        ("every day at 9am but not on christmas day", "could not use"),
        ("every day at 9am until the harvest", "'until'"),
        ("every day at 9am until friday", "'until'"),
        ("the second to last friday of the month", "second-to-last friday"),
        ("every day at 9am only on christmas", "'only'"),
        ("tomorrow at 9am except in july", "one-off"),
        ("tomorrow at 9am until march", "one-off"),
        ("every 90 minutes except in july", "cannot be limited"),
        ("every monday at 9am except mondays", "no day is left"),
        ("every day at 9am until 2026-11-20", "past"),
    ],
)
def test_what_cannot_be_held_is_refused(text: str, reason: str) -> None:
    with pytest.raises(NotASchedule, match=reason):
        parse_text(text, now=NOW)


def test_implicit_am_pm_is_a_guess_and_says_which() -> None:
    parsed = parse_text("every weekday at 9 and 5", now=NOW)
    assert isinstance(parsed.schedule, CronSchedule)
    assert parsed.schedule.expression == "0 5,9 * * 1-5"
    assert parsed.confidence <= 0.5
    assert parsed.warnings == [
        "'9' and '5' without am/pm are read as 09:00 and 05:00; say am or pm (or a 24-hour "
        "time such as 17:00) to be sure"
    ]
    window = parse_text("every 15 minutes between 9 and 5", now=NOW)
    assert "read as 09:00 and 17:00" in window.warnings[0] and window.confidence <= 0.5
    sure = parse_text("every weekday at 9am and 5pm", now=NOW)
    assert sure.warnings == [] and sure.confidence >= 0.9


def test_every_other_day_is_a_48_hour_interval_from_the_stated_time() -> None:
    parsed = parse_text("every other day at 6am", timezone="Europe/Berlin", now=NOW)
    assert isinstance(parsed.schedule, EverySchedule)
    assert parsed.schedule.interval == 2 * 86400
    times = fires(parsed, 40)
    assert times[0].isoformat() == "2026-11-26T06:00:00+01:00"
    # Across the turn of the month, unlike day-of-month */2 (the 31st and the 1st).
    assert all(b - a == dt.timedelta(days=2) for a, b in zip(times, times[1:], strict=False))
    assert parsed.confidence <= 0.5 and any("48 hours" in w for w in parsed.warnings)


def test_twice_a_day_says_its_reading() -> None:
    parsed = parse_text("twice a day", now=NOW)
    assert [t.hour for t in fires(parsed, 2)] == [12, 0]
    assert parsed.confidence <= 0.5 and "every 12 hours" in parsed.warnings[0]


def test_unknown_words_are_named_and_lower_the_confidence() -> None:
    parsed = parse_text("every day at 9am banana", now=NOW)
    assert parsed.warnings == ["the word 'banana' was not understood and is left out"]
    assert parsed.confidence <= 0.5
    # Fillers are no words to flag.
    assert parse_text("please run it every day at 9am", now=NOW).warnings == []


@pytest.mark.parametrize(
    "text",
    [
        "every day at 9am",
        "every weekday at 9am except in august",
        "on the penultimate day of the month at 18:00",
        "every day at 7am until the end of march",
        "every monday at 9am except us holidays",
        "every 15 minutes",
        "tomorrow at 3pm",
    ],
)
def test_confidence_is_high_when_every_word_is_used_and_nothing_guessed(text: str) -> None:
    parsed = parse_text(text, now=NOW)
    assert parsed.confidence >= 0.9 and parsed.warnings == []


def test_every_guess_is_at_most_half_sure_and_always_said() -> None:
    for case in CASES:
        parsed = parse_text(case[0], timezone=default_zone(case), now=now_for(case))
        if parsed.confidence <= 0.5:
            assert parsed.warnings, case[0]


# --- the corpus with a qualifier appended -------------------------------------------------


@pytest.mark.parametrize("qualifier", list(QUALIFIERS))
def test_a_qualifier_is_never_dropped_silently(qualifier: str) -> None:
    """Every phrase of the corpus with the qualifier appended is refused, warned of (a new
    warning, confidence at most 0.5), or a schedule that does what the qualifier says; never
    the plain phrase's schedule unflagged."""
    wrong = [
        f"{case[0]} {qualifier}"
        for case in CASES
        if judge_qualified(case, qualifier, now_for(case)) == "wrong"
    ]
    assert wrong == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(CASES),
    word=st.from_regex(r"[a-z]{3,9}", fullmatch=True),
    at_front=st.booleans(),
)
def test_a_random_word_is_never_dropped_silently(
    case: tuple[str, ...], word: str, at_front: bool
) -> None:
    lexed = tokenize(word)
    if word in FILLER or not lexed.tokens or not lexed.tokens[0].startswith("?"):
        return  # a word the grammar knows (or a filler) is not a random word
    text = f"{word} {case[0]}" if at_front else f"{case[0]} {word}"
    try:
        parsed = parse_text(text, timezone=default_zone(case), now=now_for(case))  # type: ignore[arg-type]
    except NotASchedule:
        return
    assert any(word in warning for warning in parsed.warnings)
    assert parsed.confidence <= 0.5


# --- the description reads back as the schedule -------------------------------------------

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney"]
DAYS = st.sampled_from(["*", "1", "15", "1,15", "1-7", "L", "LW", "L-1", "10-20"])
WEEKDAYS = st.sampled_from(["*", "1", "1-5", "0,6", "1,3,5", "5L", "2#2", "4#3"])
MONTHS = st.sampled_from(["*", "1", "6-8", "1-7,9-12", "3,9"])


@st.composite
def cron_schedules(draw: st.DrawFn) -> CronSchedule:
    minute = draw(st.sampled_from([0, 5, 15, 30, 45]))
    hours = draw(st.sampled_from(["9", "0", "17", "9,17", "12", "23"]))
    day, weekday = draw(DAYS), draw(WEEKDAYS)
    if day != "*" and weekday != "*":
        weekday = "*"  # both restricted read as "if that day is a …", not said back
    expression = f"{minute} {hours} {day} {draw(MONTHS)} {weekday}"
    bounds: dict[str, object] = {}
    if draw(st.booleans()):
        bounds["start_at"] = f"2027-0{draw(st.integers(1, 4))}-1{draw(st.integers(0, 9))}"
    if draw(st.booleans()):
        bounds["end_at"] = f"2028-0{draw(st.integers(1, 9))}-0{draw(st.integers(1, 9))}T23:59:59"
    holidays = draw(st.sampled_from([None, "US", "GB-ENG", "DE-BY"]))
    if holidays is not None:
        bounds["exclude"] = {"holidays": holidays}
    schedule = CronSchedule.model_validate(
        {"type": "cron", "expression": expression, "timezone": draw(st.sampled_from(ZONES))}
        | bounds
    )
    assume(next_fire_times(schedule, after=NOW, count=1))  # one that fires at all
    return schedule


def _reads_back(schedule: CronSchedule | EverySchedule | AtSchedule) -> None:
    text = describe(schedule)
    try:
        parsed = parse_text(text, timezone=schedule.timezone, now=NOW)
    except NotASchedule as refusal:
        raise AssertionError(f"{text!r} ({schedule!r}) is refused: {refusal}") from None
    assert instants(parsed.schedule) == instants(schedule), (text, parsed.schedule)
    assert parsed.schedule.start_at == schedule.start_at
    assert parsed.schedule.end_at == schedule.end_at
    assert getattr(parsed.schedule, "exclude", None) == getattr(schedule, "exclude", None)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=cron_schedules())
def test_a_cron_description_reads_back_as_its_schedule(schedule: CronSchedule) -> None:
    _reads_back(schedule)


@settings(max_examples=60, deadline=None)
@given(
    # Intervals below a day, and whole days at a UTC time: their descriptions name the phase.
    # Several days or weeks are left out: the description names the weekday and time, not
    # which of the weeks (parse-nl's answer adds the next fire for that).
    interval=st.sampled_from([1, 30, 60, 90, 300, 900, 5400, 3600, 7 * 3600, 86400]),
    phase=st.integers(0, 86399),
    zone=st.sampled_from(["UTC", "America/New_York", "Europe/Berlin"]),
)
def test_an_every_description_reads_back_as_its_schedule(
    interval: int, phase: int, zone: str
) -> None:
    offset = (phase - phase % 60) % interval if interval in (3600, 86400) else 0
    _reads_back(EverySchedule(type="every", interval=interval, offset=offset, timezone=zone))


@settings(max_examples=40, deadline=None)
@given(
    moment=st.datetimes(dt.datetime(2027, 1, 1), dt.datetime(2030, 12, 31)),
    zone=st.sampled_from(ZONES),
)
def test_an_at_description_reads_back_as_its_schedule(moment: dt.datetime, zone: str) -> None:
    _reads_back(
        AtSchedule(type="at", datetime=moment.replace(second=0, microsecond=0), timezone=zone)
    )
