"""Natural-language schedules: a corpus of phrasings, refusals, confidence and descriptions."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.nl import NotASchedule, ParsedText, describe, parse_text
from domain.schedules import AtSchedule, CronSchedule, EverySchedule, next_fire_times
from tests.helpers.nl_corpus import (
    CASES,
    REFUSALS,
    default_zone,
    expected_schedule,
    now_for,
    same_schedule,
)

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


def test_corpus_size() -> None:
    assert len(CASES) >= 150
    assert len(REFUSALS) >= 20


def test_corpus_pass_rate() -> None:
    failures: list[str] = []
    for case in CASES:
        now = now_for(case)
        want = expected_schedule(case)
        try:
            got = parse_text(case[0], timezone=default_zone(case), now=now).schedule
        except NotASchedule as error:
            failures.append(f"{case[0]!r}: refused ({error}); want {want!r}")
            continue
        if not same_schedule(got, want, now):
            failures.append(f"{case[0]!r}: got {got!r}; want {want!r}")
    rate = 1 - len(failures) / len(CASES)
    print(f"\nNL corpus: {len(CASES) - len(failures)}/{len(CASES)} = {rate:.1%}")  # noqa: T201
    for failure in failures:
        print("  FAIL", failure)  # noqa: T201
    assert rate >= 0.95


@pytest.mark.parametrize(
    ("expression", "zone"),
    [
        # Same clock as UTC in November; an hour apart in summer.
        ("0 9 * * *", "Europe/London"),
        # Even UTC hours in November (UTC-8), odd ones in summer (UTC-7).
        ("0 */2 * * *", "America/Los_Angeles"),
    ],
)
def test_corpus_judge_tells_zones_apart(expression: str, zone: str) -> None:
    right = CronSchedule(type="cron", expression=expression, timezone=zone)
    wrong = CronSchedule(type="cron", expression=expression, timezone="UTC")
    assert same_schedule(right, right, NOW)
    assert not same_schedule(wrong, right, NOW)
    # "Every 5 minutes" fires at the same instants in any whole-hour zone: equal, rightly.
    assert same_schedule(
        CronSchedule(type="cron", expression="*/5 * * * *", timezone="Asia/Tokyo"),
        CronSchedule(type="cron", expression="*/5 * * * *", timezone="UTC"),
        NOW,
    )


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals(text: str) -> None:
    with pytest.raises(NotASchedule) as refused:
        parse_text(text, now=NOW)
    assert str(refused.value)  # a reason the user can read


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("at 25:00", "not a time of day"),
        ("at 13pm", "1–12"),
        ("February 30th", "February"),
        ("every 0 minutes", "at least 1 second"),
        ("buy milk", "no schedule found"),
        ("today at 9am", "in the past"),
    ],
)
def test_refusal_reasons(text: str, reason: str) -> None:
    with pytest.raises(NotASchedule, match=reason):
        parse_text(text, now=NOW)


def test_api_doc_example() -> None:
    parsed = parse_text("every weekday at 9am Pacific", now=NOW)
    assert parsed.schedule == CronSchedule(
        type="cron", expression="0 9 * * 1-5", timezone="America/Los_Angeles"
    )
    assert parsed.human_readable == "At 09:00 AM, Monday through Friday, Pacific Time"
    assert parsed.confidence == 0.95


def test_window_end_hour_is_excluded() -> None:
    parsed = parse_text("every 15 minutes between 9 and 5 on weekdays", now=NOW)
    assert isinstance(parsed.schedule, CronSchedule)
    assert parsed.schedule.expression == "*/15 9-16 * * 1-5"


def test_uneven_intervals_are_every_schedules() -> None:
    for text, seconds in [("every 90 minutes", 5400), ("every 7 hours", 25200)]:
        schedule = parse_text(text, now=NOW).schedule
        assert schedule == EverySchedule(type="every", interval=seconds, timezone="UTC")


def test_text_zone_overrides_default() -> None:
    parsed = parse_text("every day at 9am Tokyo", timezone="America/New_York", now=NOW)
    assert parsed.schedule.timezone == "Asia/Tokyo"
    parsed = parse_text("every day at 9am", timezone="America/New_York", now=NOW)
    assert parsed.schedule.timezone == "America/New_York"


def test_one_offs_are_in_the_future_in_the_zone() -> None:
    now = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC)  # 15:30 in Los Angeles
    parsed = parse_text("tomorrow at 9am", timezone="America/Los_Angeles", now=now)
    assert isinstance(parsed.schedule, AtSchedule)
    assert parsed.schedule.datetime.isoformat() == "2026-11-26T09:00:00-08:00"
    assert parsed.schedule.datetime > now


@pytest.mark.parametrize(
    ("clean", "messy"),
    [
        ("every wednesday at 9am", "evry wednesay at 9am"),
        ("every monday at 8am", "evrey mondy at 8am"),
        ("every 10 minutes", "every 10 minuets"),
        ("tomorrow at 9am", "tommorow at 9am"),
        ("every day at 9am", "every day at 9"),
        ("every friday at 10am", "friday at 10am"),
        ("every day at 7am", "please do the thing every day at 7am"),
    ],
)
def test_confidence_is_lower_for_typos_and_guesses(clean: str, messy: str) -> None:
    a = parse_text(clean, now=NOW)
    b = parse_text(messy, now=NOW)
    assert same_schedule(b.schedule, a.schedule, NOW)
    assert 0.9 <= a.confidence <= 0.95
    assert 0 < b.confidence < a.confidence


@pytest.mark.parametrize(
    ("text", "human"),
    [
        ("every 90 seconds", "Every 90 seconds"),
        ("every 2 hours", "Every 2 hours, UTC"),
        ("every 7 hours", "Every 7 hours"),
        ("every day at 9am London time", "At 09:00 AM, Europe/London time"),
        ("every weekday at 9am ET", "At 09:00 AM, Monday through Friday, Eastern Time"),
        ("tomorrow at 3pm", "Once, at 03:00 PM on Thursday, November 26, 2026, UTC"),
    ],
)
def test_human_readable(text: str, human: str) -> None:
    assert parse_text(text, now=NOW).human_readable == human


def test_describe_any_schedule() -> None:
    assert describe(EverySchedule(type="every", interval=86400)) == "Every day, at 12:00 AM UTC"
    assert describe(EverySchedule(type="every", interval=60)) == "Every minute"
    assert (
        describe(CronSchedule(type="cron", expression="0 9 1-7 * 1", timezone="Europe/Paris"))
        == "At 09:00 AM, between day 1 and 7 of the month, if that day is a Monday, "
        "Europe/Paris time"
    )
    at = AtSchedule(type="at", datetime=dt.datetime(2027, 3, 5, 14, 0), timezone="Asia/Tokyo")
    assert describe(at) == "Once, at 02:00 PM on Friday, March 5, 2027, Asia/Tokyo time"


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("0 9 1,15,L * *", "At 09:00 AM, on day 1, day 15 and the last day of the month"),
        ("0 9 * * 1#1,1#3", "At 09:00 AM, on the first Monday and the third Monday of the month"),
        ("0 17 LW * *", "At 05:00 PM, on the last weekday of the month"),
        (
            "0 9 15W 2 *",
            "At 09:00 AM, on the weekday nearest day 15 of the month, only in February",
        ),
        (
            "0 9 25-31 * 1L",
            "At 09:00 AM, on the last Monday of the month, if that day is day 25–31 of the month",
        ),
        (
            "0 9 L * 1-5",
            "At 09:00 AM, on the last day of the month, if that day is a Monday through Friday",
        ),
    ],
)
def test_describe_day_forms(expression: str, words: str) -> None:
    assert describe(CronSchedule(type="cron", expression=expression)) == f"{words}, UTC"


def test_describe_says_everything_a_schedule_holds() -> None:
    fortnightly = EverySchedule(type="every", interval="2w", offset="1d16h", timezone="UTC")
    assert describe(fortnightly) == "Every 2 weeks, on Friday at 04:00 PM UTC"
    assert describe(EverySchedule(type="every", interval="1d", offset="7h30m")) == (
        "Every day, at 07:30 AM UTC"
    )
    assert describe(EverySchedule(type="every", interval=3600, offset=900)) == (
        "Every hour, at 15 minutes past the hour"
    )
    several = CronSchedule(
        type="cron",
        expression=["0 9 * * 1-5", "0 18 L * *", "0 9 * * 2#2"],
        timezone="UTC",
        exclude={"holidays": "GB-ENG", "dates": ["2027-01-04", "2027-01-05"]},
    )
    assert describe(several) == (
        "At 09:00 AM, Monday through Friday; and at 06:00 PM, on the last day of the month; "
        "and at 09:00 AM, on the second Tuesday of the month, UTC, except on GB-ENG holidays "
        "and 2 listed dates"
    )


def test_every_result_is_valid_and_serialisable() -> None:
    for case in CASES:
        parsed = parse_text(case[0], timezone=default_zone(case), now=now_for(case))
        assert ParsedText.model_validate(parsed.model_dump()) == parsed
        assert 0 < parsed.confidence <= 1


def test_naive_now_is_read_in_the_zone() -> None:
    parsed = parse_text("in 1 hour", timezone="Asia/Tokyo", now=dt.datetime(2026, 1, 1, 8, 0))
    assert isinstance(parsed.schedule, AtSchedule)
    assert parsed.schedule.datetime.isoformat() == "2026-01-01T09:00:00+09:00"


WEDNESDAY = dt.datetime(2027, 3, 10, 12, 0, tzinfo=dt.UTC)


def test_business_hours_are_monday_to_friday_nine_to_five() -> None:
    parsed = parse_text("every 15 minutes during business hours", now=WEDNESDAY)
    assert parsed.schedule == CronSchedule(
        type="cron", expression="*/15 9-16 * * 1-5", timezone="UTC"
    )
    fires = next_fire_times(parsed.schedule, after=WEDNESDAY, count=200)
    assert {f.isoweekday() for f in fires} == {1, 2, 3, 4, 5}
    assert min(f.time() for f in fires) == dt.time(9, 0)
    assert max(f.time() for f in fires) == dt.time(16, 45)
    assert "Monday through Friday" in parsed.human_readable


@pytest.mark.parametrize(
    ("text", "weekday", "first"),
    [
        ("every other week on friday", 4, "2027-03-12T00:00"),
        ("every other friday at 5pm", 4, "2027-03-12T17:00"),
        ("biweekly on monday at 9am", 0, "2027-03-15T09:00"),
        ("every 2 weeks on wednesday at 8am", 2, "2027-03-17T08:00"),
    ],
)
def test_every_other_week_on_a_day_is_an_interval_with_a_phase(
    text: str, weekday: int, first: str
) -> None:
    parsed = parse_text(text, now=WEDNESDAY)
    schedule = parsed.schedule
    assert isinstance(schedule, EverySchedule)
    assert schedule.interval == 14 * 86400 and 0 < schedule.offset < schedule.interval
    fires = next_fire_times(schedule, after=WEDNESDAY, count=5)
    assert fires[0] == dt.datetime.fromisoformat(first).replace(tzinfo=dt.UTC)
    assert all(f.weekday() == weekday and f.time() == fires[0].time() for f in fires)
    assert all(b - a == dt.timedelta(days=14) for a, b in zip(fires, fires[1:], strict=False))
    assert parsed.warnings[0].startswith("every 2 weeks from ")
    assert "next on" in parsed.human_readable


def test_biweekly_in_a_dst_zone_says_the_interval_does_not_follow_the_clock() -> None:
    parsed = parse_text("biweekly on friday at 5pm", timezone="America/New_York", now=WEDNESDAY)
    assert isinstance(parsed.schedule, EverySchedule)
    fires = next_fire_times(parsed.schedule, after=WEDNESDAY, count=30)
    # 17:00 in winter time; after the March change the fixed interval lands at 18:00.
    assert fires[0].isoformat() == "2027-03-12T17:00:00-05:00"
    assert fires[1].isoformat() == "2027-03-26T18:00:00-04:00"
    assert any("does not follow DST" in warning for warning in parsed.warnings)
    # Plain "biweekly" stays the epoch-aligned interval.
    plain = parse_text("biweekly", now=WEDNESDAY).schedule
    assert plain == EverySchedule(type="every", interval=1209600, timezone="UTC")


def test_every_other_week_refuses_what_one_interval_cannot_say() -> None:
    for text in ("every other friday and monday", "every 2 weeks at 9am"):
        with pytest.raises(NotASchedule):
            parse_text(text, now=WEDNESDAY)


def _at(parsed: ParsedText) -> dt.datetime:
    assert isinstance(parsed.schedule, AtSchedule)
    return parsed.schedule.datetime


def test_next_friday_on_a_wednesday_is_next_weeks_and_says_so() -> None:
    parsed = parse_text("next friday at 10am", now=WEDNESDAY)
    assert parsed.schedule == AtSchedule(
        type="at", datetime=dt.datetime(2027, 3, 19, 10, 0), timezone="UTC"
    )
    assert parsed.warnings == [
        "'next friday' is read as Friday of next week, March 19; say 'this friday' for March 12"
    ]
    assert parsed.confidence < parse_text("this friday at 10am", now=WEDNESDAY).confidence
    this = parse_text("this friday at 10am", now=WEDNESDAY)
    assert _at(this) == dt.datetime(2027, 3, 12, 10, 0, tzinfo=dt.UTC)
    assert this.warnings == []
    # Where both readings agree there is nothing to flag.
    saturday = WEDNESDAY + dt.timedelta(days=3)
    unambiguous = parse_text("next friday at 10am", now=saturday)
    assert _at(unambiguous) == dt.datetime(2027, 3, 19, 10, 0, tzinfo=dt.UTC)
    assert unambiguous.warnings == []
    monday = parse_text("next monday at 10am", now=WEDNESDAY)
    assert _at(monday) == dt.datetime(2027, 3, 15, 10, 0, tzinfo=dt.UTC)
    assert monday.warnings == []
