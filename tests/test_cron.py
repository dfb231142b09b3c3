"""The schedule evaluator on its own: Temporal's readings (docs/time.md) on exact instants, and
parsing.

Every DST reading below is one docs/time.md lists as measured on Temporal Server, or follows from
it;
``tests/test_schedule_evaluator.py`` checks the same behaviour against a live server.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from api.core.schedules import cron_calendars
from domain.cron import CronError, parse_cron
from domain.schedules import (
    AtSchedule,
    CronSchedule,
    EverySchedule,
    next_fire_time,
    next_fire_times,
)


def utc(text: str) -> datetime:
    """``"2027-03-14T06:30Z"`` as an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def cron_fires(expression: str, timezone: str, after: str, count: int) -> list[str]:
    """The next fires of a cron schedule, as ``YYYY-MM-DDTHH:MMZ`` strings in UTC."""
    schedule = CronSchedule(type="cron", expression=expression, timezone=timezone)
    times = next_fire_times(schedule, after=utc(after), count=count)
    return [time.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ") for time in times]


# --- docs/time.md: spring forward, a wall time that does not exist ------------------------------


def test_new_york_0230_does_not_fire_on_the_spring_forward_day() -> None:
    # 2027-03-14 02:00 EST -> 03:00 EDT: 02:30 does not exist, and Temporal skips the day.
    assert cron_fires("30 2 * * *", "America/New_York", "2027-03-13T00:00Z", 3) == [
        "2027-03-13T07:30Z",
        "2027-03-15T06:30Z",
        "2027-03-16T06:30Z",
    ]


def test_london_0100_does_not_fire_on_the_spring_forward_day() -> None:
    # 2027-03-28 01:00 GMT -> 02:00 BST.
    assert cron_fires("0 1 * * *", "Europe/London", "2027-03-27T00:00Z", 2) == [
        "2027-03-27T01:00Z",
        "2027-03-29T00:00Z",
    ]


def test_lord_howe_0215_fires_at_0245_on_the_spring_forward_day() -> None:
    # 2027-10-03 02:00 +10:30 -> 02:30 +11:00: 02:15 does not exist and fires at 02:45 local.
    schedule = CronSchedule(type="cron", expression="15 2 * * *", timezone="Australia/Lord_Howe")
    times = next_fire_times(schedule, after=utc("2027-10-01T00:00Z"), count=3)
    assert [time.astimezone(UTC) for time in times] == [
        utc("2027-10-01T15:45Z"),
        utc("2027-10-02T15:45Z"),
        utc("2027-10-03T15:15Z"),
    ]
    assert times[1].isoformat() == "2027-10-03T02:45:00+11:00"


def test_spring_forward_hour_is_skipped_not_moved() -> None:
    # Hourly at :30 on the day: 01:30 EST, then 03:30 EDT; nothing stands in for 02:30.
    assert cron_fires("30 * 14 3 *", "America/New_York", "2027-03-14T05:45Z", 3) == [
        "2027-03-14T06:30Z",
        "2027-03-14T07:30Z",
        "2027-03-14T08:30Z",
    ]


# --- docs/time.md: fall back, a wall time that happens twice ------------------------------------


def test_new_york_0130_fires_twice_on_the_fall_back_day() -> None:
    # 2027-11-07 02:00 EDT -> 01:00 EST: 01:30 happens at 05:30 and at 06:30 UTC.
    assert cron_fires("30 1 * * *", "America/New_York", "2027-11-06T00:00Z", 4) == [
        "2027-11-06T05:30Z",
        "2027-11-07T05:30Z",
        "2027-11-07T06:30Z",
        "2027-11-08T06:30Z",
    ]


def test_new_york_repeated_hour_fires_every_quarter_hour_in_both_copies() -> None:
    fires = cron_fires("*/15 0-2 7 11 *", "America/New_York", "2026-11-25T00:00Z", 16)
    start = utc("2027-11-07T04:00Z")
    # 00:00-00:45 EDT, 01:00-01:45 EDT, 01:00-01:45 EST, 02:00-02:45 EST: 16 distinct instants.
    expected = [start + timedelta(minutes=15 * n) for n in range(16)]
    assert fires == [time.strftime("%Y-%m-%dT%H:%MZ") for time in expected]


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # At the first 01:30 (EDT): the second one is still to come.
        ("2027-11-07T05:30Z", "2027-11-07T06:30Z"),
        # Inside the second copy of the hour, before 01:30 EST.
        ("2027-11-07T06:00Z", "2027-11-07T06:30Z"),
        # After the second 01:30: tomorrow.
        ("2027-11-07T06:30Z", "2027-11-08T06:30Z"),
    ],
)
def test_new_york_fall_back_counted_from_inside_the_repeated_hour(
    after: str, expected: str
) -> None:
    assert cron_fires("30 1 * * *", "America/New_York", after, 1) == [expected]


def test_london_0130_fires_once_at_the_later_occurrence() -> None:
    # 2027-10-31 02:00 BST -> 01:00 GMT: 01:30 BST (00:30 UTC) does not fire; 01:30 GMT does.
    assert cron_fires("30 1 * * *", "Europe/London", "2027-10-30T00:00Z", 3) == [
        "2027-10-30T00:30Z",
        "2027-10-31T01:30Z",
        "2027-11-01T01:30Z",
    ]


def test_lord_howe_0145_fires_once_at_the_later_occurrence() -> None:
    # 2027-04-04 02:00 +11:00 -> 01:30 +10:30: 01:45 happens at 14:45 and 15:15 UTC; only the
    # later one fires.
    assert cron_fires("45 1 * * *", "Australia/Lord_Howe", "2027-04-02T00:00Z", 3) == [
        "2027-04-02T14:45Z",
        "2027-04-03T15:15Z",
        "2027-04-04T15:15Z",
    ]


def test_half_hour_zone_without_dst() -> None:
    assert cron_fires("0 9 * * *", "Asia/Kolkata", "2026-11-25T00:00Z", 2) == [
        "2026-11-25T03:30Z",
        "2026-11-26T03:30Z",
    ]


def test_fire_times_are_strictly_after_and_expressed_in_the_schedule_zone() -> None:
    schedule = CronSchedule(type="cron", expression="0 9 * * *", timezone="America/New_York")
    times = next_fire_times(schedule, after=utc("2026-11-25T14:00Z"), count=2)
    assert [time.isoformat() for time in times] == [
        "2026-11-26T09:00:00-05:00",
        "2026-11-27T09:00:00-05:00",
    ]
    assert next_fire_time(schedule, after=utc("2026-11-25T13:59:59Z")) == utc("2026-11-25T14:00Z")


# --- docs/time.md: both day fields -------------------------------------------------------------


def test_both_day_fields_restricted_requires_both() -> None:
    fires = cron_fires("0 9 1 * 1", "UTC", "2026-11-25T00:00Z", 4)
    # The 1st of a month that is a Monday, not every Monday and every 1st.
    assert fires == [
        "2027-02-01T09:00Z",
        "2027-03-01T09:00Z",
        "2027-11-01T09:00Z",
        "2028-05-01T09:00Z",
    ]
    assert all(utc(fire).weekday() == 0 and utc(fire).day == 1 for fire in fires)


def test_only_one_day_field_restricted() -> None:
    assert cron_fires("0 9 1 * *", "UTC", "2026-11-25T00:00Z", 2) == [
        "2026-12-01T09:00Z",
        "2027-01-01T09:00Z",
    ]
    assert cron_fires("0 9 * * 1", "UTC", "2026-11-25T00:00Z", 2) == [
        "2026-11-30T09:00Z",
        "2026-12-07T09:00Z",
    ]


# --- Names, Sunday, steps, lists, shortcuts -----------------------------------------------------


@pytest.mark.parametrize("day", ["0", "7", "SUN", "sun", "Sunday", "0,7"])
def test_sunday_is_0_and_7_and_its_name(day: str) -> None:
    assert parse_cron(f"0 0 * * {day}").days_of_week == {0}
    assert cron_fires(f"0 0 * * {day}", "UTC", "2026-11-25T00:00Z", 2) == [
        "2026-11-29T00:00Z",
        "2026-12-06T00:00Z",
    ]


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("MON-FRI", {1, 2, 3, 4, 5}),
        ("mon-fri", {1, 2, 3, 4, 5}),
        ("MO-FR", {1, 2, 3, 4, 5}),
        ("1-5", {1, 2, 3, 4, 5}),
        ("SAT,SUN", {0, 6}),
        ("5-7", {0, 5, 6}),
        ("0-7", {0, 1, 2, 3, 4, 5, 6}),
        ("*/2", {0, 2, 4, 6}),
        # Temporal's own reading of a range ending in 7 (checked against the live server):
        # 1-7 leaves Sunday out, 1/2 and 3-7/2 take it in.
        ("1-7", {1, 2, 3, 4, 5, 6}),
        ("1/2", {0, 1, 3, 5}),
        ("3-7/2", {0, 3, 5}),
    ],
)
def test_day_of_week_forms(field: str, days: set[int]) -> None:
    assert parse_cron(f"0 0 * * {field}").days_of_week == days


def test_weekdays_by_name_fire_monday_to_friday() -> None:
    fires = cron_fires("0 8 * * MON-FRI", "Europe/Berlin", "2026-11-27T12:00Z", 3)
    # Friday noon -> Monday, Tuesday, Wednesday at 08:00 CET.
    assert fires == ["2026-11-30T07:00Z", "2026-12-01T07:00Z", "2026-12-02T07:00Z"]


@pytest.mark.parametrize("month", ["JAN", "jan", "Jan", "January", "1"])
def test_month_names(month: str) -> None:
    assert parse_cron(f"0 0 1 {month} *").months == {1}
    assert cron_fires(f"0 0 1 {month} *", "UTC", "2026-11-25T00:00Z", 2) == [
        "2027-01-01T00:00Z",
        "2028-01-01T00:00Z",
    ]


def test_month_name_ranges_and_lists() -> None:
    assert parse_cron("0 0 1 JAN-MAR,oct *").months == {1, 2, 3, 10}
    assert cron_fires("0 0 1 JAN-MAR *", "UTC", "2026-11-25T00:00Z", 4) == [
        "2027-01-01T00:00Z",
        "2027-02-01T00:00Z",
        "2027-03-01T00:00Z",
        "2028-01-01T00:00Z",
    ]


@pytest.mark.parametrize(
    ("field", "minutes"),
    [
        ("*/15", {0, 15, 30, 45}),
        ("5/20", {5, 25, 45}),
        ("10-30/10", {10, 20, 30}),
        ("0,30", {0, 30}),
        ("1-3,58-59", {1, 2, 3, 58, 59}),
        ("*/60", {0}),
        ("7", {7}),
    ],
)
def test_minute_steps_ranges_and_lists(field: str, minutes: set[int]) -> None:
    assert parse_cron(f"{field} * * * *").minutes == minutes


def test_steps_fire_on_the_stepped_values() -> None:
    assert cron_fires("5/20 */6 * * *", "UTC", "2026-11-25T06:30Z", 4) == [
        "2026-11-25T06:45Z",
        "2026-11-25T12:05Z",
        "2026-11-25T12:25Z",
        "2026-11-25T12:45Z",
    ]


def test_lists_in_every_field() -> None:
    # 2026-11-25 is a Wednesday.
    assert cron_fires("0,30 9,17 * * MON,WED,FRI", "UTC", "2026-11-25T00:00Z", 5) == [
        "2026-11-25T09:00Z",
        "2026-11-25T09:30Z",
        "2026-11-25T17:00Z",
        "2026-11-25T17:30Z",
        "2026-11-27T09:00Z",
    ]


@pytest.mark.parametrize(
    ("shortcut", "first"),
    [
        ("@hourly", "2026-11-25T10:00Z"),
        ("@daily", "2026-11-26T00:00Z"),
        ("@midnight", "2026-11-26T00:00Z"),
        ("@weekly", "2026-11-29T00:00Z"),
        ("@monthly", "2026-12-01T00:00Z"),
        ("@yearly", "2027-01-01T00:00Z"),
        ("@annually", "2027-01-01T00:00Z"),
    ],
)
def test_shortcuts(shortcut: str, first: str) -> None:
    assert cron_fires(shortcut, "UTC", "2026-11-25T09:15Z", 1) == [first]


def test_surrounding_whitespace_and_tabs_between_fields() -> None:
    assert cron_fires("  0\t9  * *\tMON ", "UTC", "2026-11-25T00:00Z", 1) == ["2026-11-30T09:00Z"]


# --- Day forms: L, LW, nW, dL, d#n ---------------------------------------------------------


def _length(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _last_weekday(day: date) -> bool:
    last = day.replace(day=_length(day))
    while last.weekday() >= 5:
        last -= timedelta(days=1)
    return day == last


def _nearest_weekday(n: int) -> Callable[[date], bool]:
    def names(day: date) -> bool:
        if n > _length(day):
            return False
        target = day.replace(day=n)
        if target.weekday() == 5:
            target = target + timedelta(days=2) if n == 1 else target - timedelta(days=1)
        elif target.weekday() == 6:
            target = target - timedelta(days=2) if n == _length(day) else target + timedelta(days=1)
        return day == target

    return names


def _cron_weekday(day: date) -> int:
    return (day.weekday() + 1) % 7


# (day fields, the days they name by their classic definition)
DAY_FORM_ORACLES: list[tuple[str, Callable[[date], bool]]] = [
    ("L *", lambda d: d.day == _length(d)),
    ("LW *", _last_weekday),
    *[(f"{n}W *", _nearest_weekday(n)) for n in (1, 2, 15, 27, 28, 29, 30, 31)],
    *[
        (f"* {w}L", lambda d, w=w: _cron_weekday(d) == w % 7 and d.day + 7 > _length(d))
        for w in (0, 5, 7)
    ],
    *[
        (f"* {w}#{n}", lambda d, w=w, n=n: _cron_weekday(d) == w and (d.day - 1) // 7 == n - 1)
        for w in (2, 6)
        for n in (1, 2, 5)
    ],
    ("* FRIL", lambda d: d.weekday() == 4 and d.day + 7 > _length(d)),
    ("* tue#2,thu#4", lambda d: (d.weekday(), (d.day - 1) // 7) in ((1, 1), (3, 3))),
    ("1,15,L *", lambda d: d.day in (1, 15, _length(d))),
    ("L 1-5", lambda d: d.day == _length(d) and d.weekday() < 5),
    ("10-20 5L", lambda d: False),
    ("25-31 1L", lambda d: d.weekday() == 0 and d.day >= 25 and d.day + 7 > _length(d)),
]


@pytest.mark.parametrize(("days", "oracle"), DAY_FORM_ORACLES)
def test_day_forms_name_exactly_their_days_to_2100(
    days: str, oracle: Callable[[date], bool]
) -> None:
    day_of_month, day_of_week = days.split()
    compiled = parse_cron(f"0 9 {day_of_month} * {day_of_week}")
    assert compiled.day_forms
    day, named, expected = date(2000, 1, 1), [], []
    while day.year <= 2100:
        if compiled.names_day(day):
            named.append(day)
        if oracle(day):
            expected.append(day)
        day += timedelta(days=1)
    assert named == expected
    # The evaluator fires on those days (checked over two years against the same list).
    fires = cron_fires(f"0 9 {day_of_month} * {day_of_week}", "UTC", "2027-01-01T00:00Z", 100)
    two_years = [d for d in expected if date(2027, 1, 1) <= d < date(2029, 1, 1)]
    assert [f[:10] for f in fires if f < "2029"] == [d.isoformat() for d in two_years]


def test_last_day_of_the_month_around_a_leap_february() -> None:
    assert cron_fires("0 18 L * *", "UTC", "2027-12-15T00:00Z", 4) == [
        "2027-12-31T18:00Z",
        "2028-01-31T18:00Z",
        "2028-02-29T18:00Z",
        "2028-03-31T18:00Z",
    ]
    assert cron_fires("0 18 L 2 *", "UTC", "2099-01-01T00:00Z", 3) == [
        "2099-02-28T18:00Z",
        "2100-02-28T18:00Z",
    ]


def test_last_day_lists_the_leap_years_for_temporal() -> None:
    specs = cron_calendars(parse_cron("0 18 L * *"))
    by_last_day = {spec.day_of_month[0].start: spec for spec in specs}
    assert sorted(by_last_day) == [28, 29, 30, 31]
    leap = [r.start for r in by_last_day[29].year]
    assert leap == list(range(2000, 2097, 4)) and all(
        r.start == r.end for r in by_last_day[29].year
    )
    common = {y for r in by_last_day[28].year for y in range(r.start, r.end + 1)}
    assert common == set(range(2000, 2101)) - set(leap)
    assert [(r.start, r.end) for r in by_last_day[30].month] == [(4, 4), (6, 6), (9, 9), (11, 11)]
    # A plain expression stays one calendar (and goes to Temporal as a cron string).
    assert not parse_cron("0 9 1,15 * *").day_forms


# --- Expressions that never fire, Temporal's horizon ------------------------------------------


def test_february_30_never_fires() -> None:
    assert cron_fires("0 0 30 2 *", "UTC", "2026-11-25T00:00Z", 3) == []


def test_nothing_after_the_year_2100() -> None:
    # 2100 is not a leap year, so the last February 29 Temporal would fire is in 2096.
    assert cron_fires("0 0 29 2 *", "UTC", "2095-01-01T00:00Z", 3) == ["2096-02-29T00:00Z"]
    assert cron_fires("0 0 31 12 *", "UTC", "2099-01-01T00:00Z", 3) == [
        "2099-12-31T00:00Z",
        "2100-12-31T00:00Z",
    ]


# --- Refused expressions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "minute field: 61 is out of range 0–59"),
        ("* 24 * * *", "hour field: 24 is out of range 0–23"),
        ("* * 0 * *", "day-of-month field: 0 is out of range 1–31"),
        ("* * 32 * *", "day-of-month field: 32 is out of range 1–31"),
        ("* * * 13 *", "month field: 13 is out of range 1–12"),
        ("* * * * 8", "day-of-week field: 8 is out of range 0–7 (0 and 7 are Sunday)"),
        ("0-60 * * * *", "minute field: 60 is out of range 0–59"),
        ("0 0 32W * *", "day-of-month field: '32W': 32 is out of range 1–31"),
        ("0 0 0W * *", "day-of-month field: '0W': 0 is out of range 1–31"),
        ("0 0 L-30 * *", "day-of-month field: 'L-30': 30 is out of range 1–27"),
        ("0 0 W * *", "day-of-month field: 'W' is not supported"),
        ("0 0 5L * *", "day-of-month field: '5L' is not supported"),
        ("0 0 * * L", "day-of-week field: 'L' is not supported: this field takes dL"),
        ("0 0 * * 8#6", "day-of-week field: '8#6': 8 is out of range 0–7"),
        ("0 0 * * 5#6", "day-of-week field: '5#6': #6 is out of range #1–#5"),
        ("0 0 * * 5#0", "day-of-week field: '5#0': #0 is out of range #1–#5"),
        ("0 0 * * 9L", "day-of-week field: '9L': 9 is out of range 0–7"),
        ("0 0 * * 15W", "day-of-week field: '15W' is not supported"),
        ("0 0 * * #3", "day-of-week field: '#3' is not supported"),
        ("0 0 * * 5#3#2", "day-of-week field: '5#3#2' is not supported"),
        ("0 0 5#3 * *", "day-of-month field: '#' is only read in the day-of-week field"),
        ("0 0 L * 5L", "day-of-week field: its L and # forms cannot be combined"),
        ("0 0 *,L * *", "day-of-month field: '*' already names every day"),
        ("0 0 ? * MON", "'?' is not supported"),
        ("0 0 * * * 2027", "got 6; Temporal would read a 6th field as a year"),
        ("0 0 0 * * * 2027", "got 7; Temporal would read 7 fields as seconds"),
        ("0 0 * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
        ("@every 5m", "'@every' is not supported: use an 'every' schedule"),
        ("", "empty cron expression"),
        ("   ", "empty cron expression"),
        ("30-10 * * * *", "minute field: range '30-10' ends before it starts"),
        ("* * * DEC-FEB *", "month field: range 'DEC-FEB' ends before it starts"),
        ("* * * * FRI-MON", "day-of-week field: range 'FRI-MON' ends before it starts"),
        ("* * * * SAT-SUN", "Sunday is 0 in a range: write 6-7"),
        ("*/0 * * * *", "minute field: step must be at least 1, got 0"),
        ("*/x * * * *", "minute field: step 'x' is not a whole number"),
        ("1/2/3 * * * *", "minute field: '1/2/3' has more than one '/'"),
        ("abc * * * *", "minute field: 'abc' is not a number"),
        ("* * * foo *", "month field: 'foo' is not a month name or number"),
        ("* * * * funday", "day-of-week field: 'funday' is not a day name or number"),
        ("5, * * * *", "minute field: a value is missing"),
        ("@fortnightly", "unknown shortcut '@fortnightly'"),
        ("CRON_TZ=UTC 0 0 * * *", "a 'CRON_TZ=' or 'TZ=' prefix is not supported"),
    ],
)
def test_refused_expressions_name_the_problem(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=re.escape(message)):
        parse_cron(expression)
    # The same message reaches the user through the schedule model (a 422 in the API).
    with pytest.raises(ValidationError, match=re.escape(message)):
        CronSchedule(type="cron", expression=expression, timezone="UTC")


def test_unknown_timezone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown timezone"):
        CronSchedule(type="cron", expression="0 9 * * *", timezone="America/New_Yrok")


def test_naive_after_is_refused() -> None:
    schedule = CronSchedule(type="cron", expression="0 9 * * *", timezone="UTC")
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_times(schedule, after=datetime(2026, 11, 25), count=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_cron("0 9 * * *").next_after(datetime(2026, 11, 25), ZoneInfo("UTC"))


# --- every ------------------------------------------------------------------------------------


def every_fires(interval: int | str, after: str, count: int, timezone: str = "UTC") -> list[str]:
    schedule = EverySchedule(type="every", interval=interval, timezone=timezone)
    times = next_fire_times(schedule, after=utc(after), count=count)
    return [time.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ") for time in times]


def test_every_is_aligned_to_the_unix_epoch() -> None:
    # 7 h does not divide a day: the grid runs from 1970-01-01T00:00Z, not from midnight.
    assert every_fires("7h", "2026-11-25T00:00Z", 4) == [
        "2026-11-25T03:00Z",
        "2026-11-25T10:00Z",
        "2026-11-25T17:00Z",
        "2026-11-26T00:00Z",
    ]


def test_every_ignores_the_zone_for_instants_but_reports_in_it() -> None:
    schedule = EverySchedule(type="every", interval="1d", timezone="America/New_York")
    times = next_fire_times(schedule, after=utc("2026-11-25T12:00Z"), count=2)
    # A day is 86400 s from the epoch: UTC midnight, 19:00 in New York.
    assert [time.isoformat() for time in times] == [
        "2026-11-25T19:00:00-05:00",
        "2026-11-26T19:00:00-05:00",
    ]


def test_every_excludes_a_fire_at_exactly_after() -> None:
    assert every_fires(3600, "2026-11-25T10:00Z", 2) == ["2026-11-25T11:00Z", "2026-11-25T12:00Z"]


def test_every_across_dst_keeps_a_fixed_interval() -> None:
    schedule = EverySchedule(type="every", interval="1h", timezone="America/New_York")
    times = next_fire_times(schedule, after=utc("2027-11-07T04:30Z"), count=4)
    assert [time.strftime("%H:%M%z") for time in times] == [
        "01:00-0400",
        "01:00-0500",
        "02:00-0500",
        "03:00-0500",
    ]


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("1h30m", 5400), ("90s", 90)])
def test_every_duration_strings(text: str, seconds: int) -> None:
    schedule = EverySchedule(type="every", interval=text)
    assert schedule.interval == seconds
    times = next_fire_times(schedule, after=utc("2026-11-25T09:01Z"), count=3)
    assert [time.timestamp() % seconds for time in times] == [0, 0, 0]
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [
        timedelta(seconds=seconds)
    ] * 2


@pytest.mark.parametrize("interval", [0, "0s", "soon", "30x"])
def test_every_refuses_bad_intervals(interval: int | str) -> None:
    with pytest.raises(ValidationError):
        EverySchedule(type="every", interval=interval)


# --- at -----------------------------------------------------------------------------------------


def test_at_fires_once_when_in_the_future() -> None:
    schedule = AtSchedule(type="at", datetime=utc("2027-01-15T14:00Z"), timezone="America/New_York")
    assert [
        t.isoformat() for t in next_fire_times(schedule, after=utc("2026-11-25T00:00Z"), count=5)
    ] == ["2027-01-15T09:00:00-05:00"]
    assert next_fire_times(schedule, after=utc("2027-01-15T14:00Z"), count=5) == []
    assert next_fire_times(schedule, after=utc("2027-02-01T00:00Z"), count=5) == []
    assert next_fire_times(schedule, after=utc("2026-11-25T00:00Z"), count=0) == []


def test_at_naive_wall_time_is_read_in_the_zone() -> None:
    schedule = AtSchedule(type="at", datetime="2027-01-15T09:00", timezone="Asia/Kolkata")
    assert next_fire_time(schedule, after=utc("2026-11-25T00:00Z")) == utc("2027-01-15T03:30Z")


def test_at_naive_wall_time_in_a_spring_forward_gap_moves_forward() -> None:
    schedule = AtSchedule(type="at", datetime="2027-03-14T02:30", timezone="America/New_York")
    assert next_fire_time(schedule, after=utc("2026-11-25T00:00Z")) == utc("2027-03-14T07:30Z")


def test_at_naive_repeated_wall_time_means_the_first_occurrence() -> None:
    schedule = AtSchedule(type="at", datetime="2027-11-07T01:30", timezone="America/New_York")
    fire = next_fire_time(schedule, after=utc("2026-11-25T00:00Z"))
    assert fire is not None
    # Compared in UTC: Python never finds an ambiguous wall time equal to one in another zone.
    assert fire.astimezone(UTC) == utc("2027-11-07T05:30Z")
    assert fire.isoformat() == "2027-11-07T01:30:00-04:00"
