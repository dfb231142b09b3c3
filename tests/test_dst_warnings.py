"""DST warnings (docs/api.md, "DST warnings"): each wall time a cron schedule names that Temporal
skips, shifts or fires other than once, checked in three zones against a real Temporal schedule's
upcoming times, and shown by ``/validate``, the job object and ``/calendar-data``."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import Client

from domain.cron import parse_cron
from domain.dst import DstWarning, dst_warnings, transition_days
from domain.schedules import CronSchedule
from tests.helpers.api import Api
from tests.helpers.evaluator import compare_cron

PREFIX = "/api/scheduler"
NY, LONDON, LORD_HOWE = "America/New_York", "Europe/London", "Australia/Lord_Howe"

# (expression, zone, the DST day, the warnings: (wall time, kind, Temporal's fires in UTC)).
# New York and London move a whole hour: a missing wall time is skipped, never shifted; Lord
# Howe moves 30 minutes, so a missing 02:15 stays in its hour and fires at 02:45.
CASES: list[tuple[str, str, date, list[tuple[str, str, tuple[str, ...]]]]] = [
    ("30 1,2 14 3 *", NY, date(2027, 3, 14), [("02:30", "skipped", ())]),
    (
        "*/30 1,2 7 11 *",
        NY,
        date(2027, 11, 7),
        [
            ("01:00", "fires_twice", ("05:00", "06:00")),
            ("01:30", "fires_twice", ("05:30", "06:30")),
        ],
    ),
    ("30 0,1 28 3 *", LONDON, date(2027, 3, 28), [("01:30", "skipped", ())]),
    ("30 1 31 10 *", LONDON, date(2027, 10, 31), [("01:30", "fires_once", ("01:30",))]),
    ("15 2 3 10 *", LORD_HOWE, date(2027, 10, 3), [("02:15", "shifted", ("15:45",))]),
    ("15 1 4 4 *", LORD_HOWE, date(2027, 4, 4), [("01:15", "fires_twice", ("14:15", "15:15"))]),
    ("30 1 4 4 *", LORD_HOWE, date(2027, 4, 4), [("01:30", "fires_once", ("15:00",))]),
    (
        "*/15 2 3 10 *",
        LORD_HOWE,
        date(2027, 10, 3),
        [("02:00", "skipped", ()), ("02:15", "skipped", ())],
    ),
    # The day forms (calendars in Temporal): London's last Sunday of March, New York's second
    # Sunday of March and first of November, Lord Howe's first Sunday of October.
    (
        "0,30 0,1 * 3 0L",
        LONDON,
        date(2027, 3, 28),
        [("01:00", "skipped", ()), ("01:30", "skipped", ())],
    ),
    ("30 1,2 * 3 SUN#2", NY, date(2027, 3, 14), [("02:30", "skipped", ())]),
    ("30 1 * 11 0#1", NY, date(2027, 11, 7), [("01:30", "fires_twice", ("05:30", "06:30"))]),
    ("15 2 * 10 0#1", LORD_HOWE, date(2027, 10, 3), [("02:15", "shifted", ("15:45",))]),
    # Temporal's walk of a repeated half hour: real wall times after it do not fire either.
    (
        "*/15 1,2 4 4 *",
        LORD_HOWE,
        date(2027, 4, 4),
        [
            ("01:30", "fires_once", ("15:00",)),
            ("01:45", "skipped", ()),
            ("02:00", "skipped", ()),
            ("02:15", "skipped", ()),
            ("02:30", "skipped", ()),
        ],
    ),
]


def _warnings(expression: str, zone: str, day: date) -> list[DstWarning]:
    tz = ZoneInfo(zone)
    schedule = CronSchedule(type="cron", expression=expression, timezone=zone)
    start = datetime.combine(day, time(), tz) - timedelta(days=1)
    return dst_warnings(schedule, start=start, end=start + timedelta(days=3))


def _utc_on(day: date, hm: str) -> datetime:
    """``hm`` UTC on ``day`` or the day before (Lord Howe is 10:30–11 hours ahead)."""
    hour, minute = map(int, hm.split(":"))
    candidate = datetime.combine(day, time(hour, minute), UTC)
    return candidate if candidate.date() == day and hour < 12 else candidate - timedelta(days=1)


@pytest.mark.parametrize(("expression", "zone", "day", "expected"), CASES)
def test_each_kind_of_warning_names_the_wall_time_and_temporals_fires(
    expression: str, zone: str, day: date, expected: list[tuple[str, str, tuple[str, ...]]]
) -> None:
    warnings = _warnings(expression, zone, day)
    assert [(w.at.strftime("%H:%M"), w.kind) for w in warnings] == [
        (at, kind) for at, kind, _ in expected
    ]
    for warning, (_, _, fires) in zip(warnings, expected, strict=True):
        assert warning.at.date() == day
        assert list(warning.fires_at) == [_utc_on(day, hm) for hm in fires]


def test_the_messages_say_what_temporal_does() -> None:
    (skipped,) = _warnings("30 2 * * *", NY, date(2027, 3, 14))
    assert skipped.message == (
        "02:30 does not exist in America/New_York on 2027-03-14; Temporal does not fire that day"
    )
    (shifted,) = _warnings("15 2 * * *", LORD_HOWE, date(2027, 10, 3))
    assert shifted.message == (
        "02:15 does not exist in Australia/Lord_Howe on 2027-10-03; "
        "Temporal fires at 02:45 (+11:00) instead"
    )
    (twice,) = _warnings("30 1 * * *", NY, date(2027, 11, 7))
    assert twice.message == (
        "01:30 happens twice in America/New_York on 2027-11-07; "
        "Temporal fires twice, at 01:30 (-04:00) and 01:30 (-05:00)"
    )
    (once,) = _warnings("30 1 * * *", LONDON, date(2027, 10, 31))
    assert once.message == (
        "01:30 happens twice in Europe/London on 2027-10-31; "
        "Temporal fires once, at the second (01:30 (+00:00)), not the first"
    )


def test_a_list_of_expressions_warns_of_each_wall_time_once() -> None:
    schedule = CronSchedule(
        type="cron", expression=["30 2 * * *", "30 1,2 * 3 0#2", "0 12 * * *"], timezone=NY
    )
    start = datetime(2027, 3, 13, tzinfo=UTC)
    warnings = dst_warnings(schedule, start=start, end=start + timedelta(days=2))
    assert [(w.at.strftime("%H:%M"), w.kind) for w in warnings] == [("02:30", "skipped")]


def test_no_warning_for_a_day_the_schedule_excludes() -> None:
    start = datetime(2027, 3, 13, tzinfo=UTC)
    for exclude in ({"dates": ["2027-03-14"]}, None):
        schedule = CronSchedule.model_validate(
            {"type": "cron", "expression": "30 2 * * *", "timezone": NY, "exclude": exclude}
        )
        warnings = dst_warnings(schedule, start=start, end=start + timedelta(days=3))
        assert len(warnings) == (0 if exclude else 1)


def test_no_warning_away_from_dst_or_for_zones_without_it() -> None:
    assert _warnings("30 2 * * *", NY, date(2027, 6, 1)) == []
    assert _warnings("30 2 * * *", "UTC", date(2027, 3, 14)) == []
    assert _warnings("30 2 * * *", "Asia/Tokyo", date(2027, 3, 14)) == []
    # A wall time away from the change, on the day itself.
    assert _warnings("0 12 * * *", NY, date(2027, 3, 14)) == []
    # A day the expression does not name.
    assert _warnings("30 2 * * 1", NY, date(2027, 3, 14)) == []


@pytest.mark.parametrize(("expression", "zone", "day", "expected"), CASES)
async def test_the_warnings_are_what_a_real_temporal_schedule_fires(
    temporal_client: Client,
    expression: str,
    zone: str,
    day: date,
    expected: list[tuple[str, str, tuple[str, ...]]],
) -> None:
    """Temporal's upcoming times on the DST day are exactly: each named wall time once, at its
    first occurrence, except where a warning says otherwise, and then what it says."""
    tz = ZoneInfo(zone)
    assert day in transition_days(tz, day, day)
    theirs = [
        t
        for t in await compare_cron(temporal_client, expression, zone)
        if t.astimezone(tz).date() == day
    ]
    warnings = {w.at: w for w in _warnings(expression, zone, day)}
    explained: list[datetime] = []
    for warning in warnings.values():
        assert set(warning.fires_at) <= set(theirs), warning
        at_wall = [t for t in theirs if t.astimezone(tz).replace(tzinfo=None) == warning.at]
        if warning.kind == "skipped":
            assert at_wall == [] and warning.fires_at == ()
        elif warning.kind == "fires_twice":
            assert len(warning.fires_at) == 2
        elif warning.kind == "fires_once":
            (fire,) = at_wall
            assert fire.astimezone(tz).fold == 1 and warning.fires_at == (fire,)
        else:
            (fire,) = warning.fires_at
            assert fire.astimezone(tz).replace(tzinfo=None) != warning.at
        explained += warning.fires_at
    # Every other fire is a named wall time at its first occurrence, and each of those fires.
    rest = [t for t in theirs if t not in explained]
    compiled = parse_cron(expression)
    named_rest = [
        datetime.combine(day, time(hour, minute))
        for hour in sorted(compiled.hours)
        for minute in sorted(compiled.minutes)
        if datetime.combine(day, time(hour, minute)) not in warnings
    ]
    assert [t.astimezone(tz).replace(tzinfo=None) for t in rest] == named_rest
    assert all(t.astimezone(tz).fold == 0 for t in rest)


def _first_day(zone: str, month: int, after: datetime) -> date:
    """The first DST day of ``zone`` in ``month`` after ``after`` (within a year)."""
    tz = ZoneInfo(zone)
    days = transition_days(tz, after.date(), after.date() + timedelta(days=366))
    return next(day for day in days if day.month == month)


async def test_validate_warns_of_the_previewed_fires(api: Api) -> None:
    alice = await api.headers("alice")
    now = datetime(2027, 3, 10, tzinfo=UTC)
    api.pin(now)
    answer = await api.http.get(
        f"{PREFIX}/validate",
        params={"type": "cron", "value": "30 2 * * *", "timezone": NY, "count": 10},
        headers=alice,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["valid"] is True and len(body["next_runs"]) == 10
    assert "2027-03-14T02:30" not in "".join(body["next_runs"])
    assert body["warnings"] == [
        {
            "at": "2027-03-14T02:30",
            "kind": "skipped",
            "message": "02:30 does not exist in America/New_York on 2027-03-14; "
            "Temporal does not fire that day",
            "fires_at": [],
        }
    ]
    # Only the previewed range: three fires end before the change.
    short = await api.http.get(
        f"{PREFIX}/validate",
        params={"type": "cron", "value": "30 2 * * *", "timezone": NY, "count": 3},
        headers=alice,
    )
    assert short.json()["warnings"] == []
    every = await api.http.get(
        f"{PREFIX}/validate",
        params={"type": "every", "value": "1h", "timezone": NY, "count": 100},
        headers=alice,
    )
    assert every.json()["warnings"] == []
    bad = await api.http.get(
        f"{PREFIX}/validate", params={"type": "cron", "value": "x", "timezone": NY}, headers=alice
    )
    assert bad.json()["valid"] is False and bad.json()["warnings"] is None


async def test_the_job_object_warns_of_the_next_366_days(api: Api) -> None:
    alice = await api.headers("alice")
    schedule = {"type": "cron", "expression": "30 1 * * *", "timezone": LONDON}
    job = {"name": "n", "goal": "g", "agent_id": "echo", "schedule": schedule}
    created = await api.http.post(f"{PREFIX}/jobs", json=job, headers=alice)
    assert created.status_code == 201, created.text
    now = datetime.now(UTC)
    spring, autumn = _first_day(LONDON, 3, now), _first_day(LONDON, 10, now)
    expected = sorted(
        [
            (f"{spring.isoformat()}T01:30", "skipped"),
            (f"{autumn.isoformat()}T01:30", "fires_once"),
        ]
    )
    for answer in (
        created.json(),
        (await api.http.get(f"{PREFIX}/jobs/{created.json()['id']}", headers=alice)).json(),
        (await api.http.get(f"{PREFIX}/jobs", headers=alice)).json()["jobs"][0],
    ):
        assert [(w["at"], w["kind"]) for w in answer["schedule_warnings"]] == expected
    (once,) = [w for w in created.json()["schedule_warnings"] if w["kind"] == "fires_once"]
    assert once["fires_at"] == [f"{autumn.isoformat()}T01:30:00Z"]
    # Intervals never move with DST.
    job["schedule"] = {"type": "every", "interval": "1h", "timezone": LONDON}
    every = await api.http.post(f"{PREFIX}/jobs", json=job, headers=alice)
    assert every.json()["schedule_warnings"] == []


async def test_calendar_data_warns_of_the_planned_fires_in_its_range(api: Api) -> None:
    alice = await api.headers("alice")
    schedule = {"type": "cron", "expression": "15 2 * * *", "timezone": LORD_HOWE}
    job = {"name": "howe", "goal": "g", "agent_id": "echo", "schedule": schedule}
    created = await api.http.post(f"{PREFIX}/jobs", json=job, headers=alice)
    assert created.status_code == 201, created.text
    api.pin(datetime(2027, 9, 20, tzinfo=UTC))
    data = await api.http.get(
        f"{PREFIX}/calendar-data",
        params={"start": "2027-09-20T00:00", "end": "2027-10-20T00:00", "timezone": LORD_HOWE},
        headers=alice,
    )
    assert data.status_code == 200, data.text
    (warning,) = data.json()["warnings"]
    assert warning == {
        "job_id": created.json()["id"],
        "job_name": "howe",
        "at": "2027-10-03T02:15",
        "kind": "shifted",
        "message": "02:15 does not exist in Australia/Lord_Howe on 2027-10-03; "
        "Temporal fires at 02:45 (+11:00) instead",
        "fires_at": ["2027-10-03T02:45:00+11:00"],
    }
    planned = [e["time"] for e in data.json()["events"] if e["kind"] == "planned"]
    assert "2027-10-03T02:45:00+11:00" in planned
    outside = await api.http.get(
        f"{PREFIX}/calendar-data",
        params={"start": "2027-10-04T00:00", "end": "2027-11-04T00:00", "timezone": LORD_HOWE},
        headers=alice,
    )
    assert outside.json()["warnings"] == []


async def test_validate_warns_that_a_skipped_at_time_moves_forward(api: Api) -> None:
    alice = await api.headers("alice")
    api.pin(datetime(2027, 3, 10, tzinfo=UTC))

    async def validate(value: str) -> dict[str, object]:
        answer = await api.http.get(
            f"{PREFIX}/validate",
            params={"type": "at", "value": value, "timezone": NY},
            headers=alice,
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    skipped = await validate("2027-03-14T02:30")
    assert skipped["next_runs"] == ["2027-03-14T03:30:00-04:00"]
    assert skipped["warnings"] == [
        {
            "at": "2027-03-14T02:30",
            "kind": "shifted",
            "message": "02:30 does not exist in America/New_York on 2027-03-14; the job fires "
            "at 03:30 (-04:00), moved forward by the DST gap",
            "fires_at": ["2027-03-14T03:30:00-04:00"],
        }
    ]
    # A repeated wall time means its first occurrence, as written: nothing to warn of; nor
    # when the time carries its offset.
    assert (await validate("2027-11-07T01:30"))["warnings"] == []
    assert (await validate("2027-03-14T07:30:00Z"))["warnings"] == []
