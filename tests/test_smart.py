"""Activity, heatmap and suggestions (docs/api.md, "Smart scheduling"): known events, several zones,
a DST week."""

from __future__ import annotations

import asyncio
import random
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api.core.index.activity import add_events
from api.services.activity import ActivityRecorder
from tests.helpers.api import Api, create

SMART = "/api/scheduler/smart"
NY = ZoneInfo("America/New_York")


async def post_events(
    api: Api, headers: dict[str, str], times: list[datetime], kind: str = "x"
) -> None:
    for i in range(0, len(times), 1000):
        chunk = [{"at": t.isoformat(), "kind": kind} for t in times[i : i + 1000]]
        response = await api.http.post(f"{SMART}/activity", json={"events": chunk}, headers=headers)
        assert response.status_code == 201, response.text
        assert response.json() == {"accepted": len(chunk)}


async def heatmap(api: Api, headers: dict[str, str], zone: str, days: int) -> dict[str, Any]:
    response = await api.http.get(
        f"{SMART}/heatmap", params={"timezone": zone, "days": days}, headers=headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def reference_grid(times: list[datetime], zone: str, days: int) -> list[list[int]]:
    """The heatmap computed event by event with zoneinfo."""
    tz = ZoneInfo(zone)
    first_day = datetime.now(UTC).astimezone(tz).date() - timedelta(days=days - 1)
    grid = [[0] * 24 for _ in range(7)]
    for t in times:
        local = t.astimezone(tz)
        if local.date() >= first_day:
            grid[local.weekday()][local.hour] += 1
    return grid


def last_transition(zone: ZoneInfo, today: date) -> datetime:
    """The latest UTC instant within the past 300 days at which ``zone`` changed offset."""
    for back in range(2, 300):
        day = today - timedelta(days=back)
        start = datetime.combine(day, time(), tzinfo=UTC)
        before = start.astimezone(zone).utcoffset()
        if (start + timedelta(days=1)).astimezone(zone).utcoffset() != before:
            low, high = start, start + timedelta(days=1)
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                if mid.astimezone(zone).utcoffset() == before:
                    low = mid
                else:
                    high = mid
            return high
    raise AssertionError("no DST change in the past 300 days")


async def test_heatmap_of_a_dst_week_is_exact_in_every_zone(api: Api) -> None:
    alice = await api.headers("alice")
    now = datetime.now(UTC)
    change = last_transition(NY, now.astimezone(NY).date())
    change_day = change.astimezone(NY).date()
    # 09:00 New York wall time on each day of the week around the change.
    week = [change_day + timedelta(days=d) for d in range(-3, 4)]
    nine = [datetime.combine(d, time(9), tzinfo=NY).astimezone(UTC) for d in week]
    # Half an hour either side of the change itself.
    around = [change - timedelta(minutes=30), change + timedelta(minutes=30)]
    await post_events(api, alice, nine + around)

    ny = await heatmap(api, alice, "America/New_York", 365)
    assert ny["days"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert ny["hours"] == list(range(24))
    assert ny["total"] == 9
    for d in week:
        assert ny["grid"][d.weekday()][9] == 1
    row = ny["grid"][change_day.weekday()]
    after = (change + timedelta(hours=1)).astimezone(NY).utcoffset()
    before = (change - timedelta(hours=1)).astimezone(NY).utcoffset()
    assert after is not None and before is not None
    falls_back = after < before
    if falls_back:  # 01:30 happens twice: both in hour 1
        assert row[1] == 2 and sum(row) == 3
    else:  # 02:00-03:00 does not exist: 01:30 and 03:30
        assert row[1] == 1 and row[2] == 0 and row[3] == 1
    assert ny["max"] == max(max(r) for r in ny["grid"])
    assert datetime.fromisoformat(ny["since"]) == datetime.combine(
        now.astimezone(NY).date() - timedelta(days=364), time(), tzinfo=NY
    )

    # In UTC the same wall time moves by an hour across the change.
    utc = await heatmap(api, alice, "UTC", 365)
    for d, t in zip(week, nine, strict=True):
        summer = datetime.combine(d, time(9), tzinfo=NY).utcoffset() == timedelta(hours=-4)
        assert t.hour == (13 if summer else 14)
        assert utc["grid"][t.weekday()][t.hour] >= 1
    assert {t.hour for t in nine} == {13, 14}
    assert utc["grid"] == reference_grid(nine + around, "UTC", 365)
    # +05:45 all year: a UTC hour straddles two local hours.
    kathmandu = await heatmap(api, alice, "Asia/Kathmandu", 365)
    assert kathmandu["grid"] == reference_grid(nine + around, "Asia/Kathmandu", 365)
    assert sorted({h for r in kathmandu["grid"] for h, n in enumerate(r) if n and h > 12}) == [
        18,
        19,
    ]

    # Other owners see none of it.
    assert (await heatmap(api, await api.headers("bob"), "UTC", 365))["total"] == 0


async def test_heatmap_matches_event_by_event_counts_over_many_zones_and_windows(api: Api) -> None:
    alice = await api.headers("alice")
    now = datetime.now(UTC)
    rng = random.Random(7)
    times = [now - timedelta(seconds=rng.randrange(1, 400 * 86400)) for _ in range(3000)]
    await post_events(api, alice, times)
    for zone in (
        "UTC",
        "America/New_York",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
    ):
        for days in (1, 7, 30, 365):
            body = await heatmap(api, alice, zone, days)
            expected = reference_grid(times, zone, days)
            assert body["grid"] == expected, (zone, days)
            assert body["total"] == sum(map(sum, expected))
            assert body["max"] == max(map(max, expected))


async def test_activity_is_validated(api: Api) -> None:
    alice = await api.headers("alice")
    now = datetime.now(UTC)

    async def post(body: Any) -> Any:
        return await api.http.post(f"{SMART}/activity", json=body, headers=alice)

    too_many = await post({"events": [{"at": now.isoformat(), "kind": "k"}] * 1001})
    assert too_many.status_code == 422 and too_many.json()["details"][0]["field"] == "events"
    future = await post(
        {
            "events": [
                {"at": now.isoformat(), "kind": "k"},
                {"at": (now + timedelta(minutes=5)).isoformat(), "kind": "k"},
            ]
        }
    )
    assert future.status_code == 422, future.text
    assert future.json()["details"] == [
        {"field": "events.1.at", "message": "must not be in the future"}
    ]
    for bad, field in (
        ({"events": [{"at": "2026-01-01T09:00:00", "kind": "k"}]}, "events.0.at"),
        ({"events": [{"at": now.isoformat(), "kind": ""}]}, "events.0.kind"),
        ({"events": [{"at": now.isoformat(), "kind": "k", "x": 1}]}, "events.0.x"),
        ({"events": []}, "events"),
        ({}, "events"),
    ):
        response = await post(bad)
        assert response.status_code == 422, bad
        assert response.json()["details"][0]["field"] == field, response.text
    # Nothing of a refused batch was written.
    assert (await heatmap(api, alice, "UTC", 30))["total"] == 0
    assert (await api.http.post(f"{SMART}/activity", json={"events": []})).status_code == 401
    bad_zone = await api.http.get(f"{SMART}/heatmap", params={"timezone": "Nowhere"}, headers=alice)
    assert bad_zone.status_code == 422 and bad_zone.json()["details"][0]["field"] == "timezone"


async def test_authenticated_calls_count_as_one_event_per_minute(api: Api) -> None:
    dave = await api.headers("dave")
    recorder = api.app.state.activity
    await recorder.flush()
    if clock.time() % 60 > 50:  # keep the calls inside one minute
        await asyncio.sleep(61 - clock.time() % 60)
    minute = datetime.fromtimestamp(clock.time() // 60 * 60, UTC)
    started = clock.perf_counter()
    for _ in range(3):
        response = await api.http.get(f"{SMART}/heatmap", headers=dave)
        assert response.status_code == 200
    assert clock.perf_counter() - started < 5
    await recorder.flush()
    await recorder.flush()  # nothing new: still one event
    body = await heatmap(api, dave, "Asia/Kolkata", 1)
    local = minute.astimezone(ZoneInfo("Asia/Kolkata"))
    assert body["total"] == 1 and body["grid"][local.weekday()][local.hour] == 1
    # A bad key records nothing.
    await api.http.get(f"{SMART}/heatmap", headers={"Authorization": "Bearer sk_nope"})
    await recorder.flush()
    assert (await heatmap(api, await api.headers("erin"), "UTC", 1))["total"] == 0


async def test_api_replicas_count_a_minute_of_calls_once(api: Api) -> None:
    frank = await api.headers("frank")
    replicas = [api.app.state.activity, ActivityRecorder(api.state.sessions)]
    for replica in replicas:
        await replica.flush()
    if clock.time() % 60 > 50:  # keep the calls inside one minute
        await asyncio.sleep(61 - clock.time() % 60)
    minute = datetime.fromtimestamp(clock.time() // 60 * 60, UTC)
    for replica in replicas:  # each API process saw calls of frank in this minute
        replica.note("frank")
    await asyncio.gather(*(replica.flush() for replica in replicas))
    for replica in replicas:
        replica.note("frank")
        await replica.flush()
    body = await heatmap(api, frank, "UTC", 1)
    assert body["total"] == 1 and body["grid"][minute.weekday()][minute.hour] == 1
    # Another owner's calls of the same minute are theirs.
    replicas[1].note("gina")
    await replicas[1].flush()
    assert (await heatmap(api, await api.headers("gina"), "UTC", 1))["total"] == 1


def at(day: date, minute: int) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=NY).astimezone(UTC)


def past_days(weekend: bool, count: int) -> list[date]:
    """The latest ``count`` weekdays (or weekend days) before today in New York."""
    today = datetime.now(NY).date()
    found: list[date] = []
    day = today - timedelta(days=1)
    while len(found) < count:
        if (day.weekday() >= 5) == weekend:
            found.append(day)
        day -= timedelta(days=1)
    return found


async def test_suggestions_from_medians_over_days(api: Api) -> None:
    alice = await api.headers("alice")
    firsts = [540, 530, 550, 540, 545, 540, 300, 540, 535, 560]  # one 05:00 outlier
    lasts = [1050, 1050, 1060, 1040, 1050, 1050, 1380, 1050, 1045, 1055]  # one 23:00 outlier
    events = []
    for day, first, last in zip(past_days(False, 10), firsts, lasts, strict=True):
        events += [at(day, first), at(day, 605), at(day, 620), at(day, 640), at(day, 840)]
        events.append(at(day, last))
    # One busy weekend day is not a weekend habit.
    events += [at(past_days(True, 5)[4], m) for m in (420, 430, 440)]
    await post_events(api, alice, events)

    response = await api.http.get(
        f"{SMART}/suggestions", params={"timezone": "America/New_York"}, headers=alice
    )
    assert response.status_code == 200, response.text
    cron = {"type": "cron", "timezone": "America/New_York"}
    assert response.json() == {
        "suggestions": [
            {
                "time": "08:55",
                "days": "Mon-Fri",
                "reason": "5 min before your typical start of day "
                "(median first activity 09:00 over 10 active weekdays)",
                "schedule": cron | {"expression": "55 8 * * 1-5"},
            },
            {
                "time": "09:45",
                "days": "Mon-Fri",
                "reason": "15 min before your busiest hour, 10:00–11:00 "
                "(median 3 events on active weekdays)",
                "schedule": cron | {"expression": "45 9 * * 1-5"},
            },
            {
                "time": "17:30",
                "days": "Mon-Fri",
                "reason": "end of your typical work day "
                "(median last activity 17:30 over 10 active weekdays)",
                "schedule": cron | {"expression": "30 17 * * 1-5"},
            },
        ],
        "note": None,
        "timezone": "America/New_York",
        "days": 28,
    }

    # Activity on 5 of the 8 weekend days in 28 days makes a weekend suggestion.
    for day, first in zip(past_days(True, 4), (600, 610, 620, 900), strict=True):
        await post_events(api, alice, [at(day, first), at(day, first + 30), at(day, first + 60)])
    body = (
        await api.http.get(
            f"{SMART}/suggestions", params={"timezone": "America/New_York"}, headers=alice
        )
    ).json()
    weekend = [s for s in body["suggestions"] if s["days"] == "Sat-Sun"]
    assert weekend == [
        {
            "time": "10:05",
            "days": "Sat-Sun",
            "reason": "5 min before your typical weekend start "
            "(median first activity 10:10 on 5 of 8 weekend days)",
            "schedule": cron | {"expression": "5 10 * * 0,6"},
        }
    ]


async def test_too_little_activity_gives_no_suggestions_and_a_note(api: Api) -> None:
    bob = await api.headers("bob")
    events = []
    for day in past_days(False, 4):
        events += [at(day, 540), at(day, 600), at(day, 1000)]
    for day in past_days(False, 8)[4:]:
        events += [at(day, 540), at(day, 600)]  # two events: not an active day
    await post_events(api, bob, events)
    body = (
        await api.http.get(
            f"{SMART}/suggestions", params={"timezone": "America/New_York"}, headers=bob
        )
    ).json()
    assert body["suggestions"] == []
    assert body["note"] == (
        "Not enough activity yet: 4 active weekday(s) in the last 28 days (a day is active "
        "with at least 3 events); suggestions need 5."
    )


def local(zone: str, text: str) -> datetime:
    """``YYYY-MM-DD HH:MM`` wall time in ``zone``, as a UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def pin_without_call_activity(api: Api, now: datetime) -> None:
    """Pin the API's clock to ``now``; leave API calls out of the activity.

    Calls are counted at the real time, which must not land in the pinned window.
    """
    api.pin(now)
    api.app.state.activity = None


async def assert_jobs_take(
    api: Api, headers: dict[str, str], suggestions: list[dict[str, Any]]
) -> None:
    """Each suggestion's schedule is one ``POST /jobs`` accepts as it is."""
    for suggestion in suggestions:
        job = await create(api, headers, name=suggestion["time"], schedule=suggestion["schedule"])
        assert job["schedule"] == suggestion["schedule"]


async def suggestions(api: Api, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await api.http.get(f"{SMART}/suggestions", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_suggestions_in_a_half_hour_zone_are_exact(api: Api) -> None:
    zone = "Asia/Kolkata"
    now = local(zone, "2027-03-19 12:00")  # a Friday; the 28 days start on 02-20
    pin_without_call_activity(api, now)
    priya = await api.headers("priya")
    days = {
        # weekday: (first activity, last activity)
        "2027-03-11": ("09:30", "18:10"),
        "2027-03-12": ("09:35", "18:00"),
        "2027-03-15": ("09:25", "18:20"),
        "2027-03-16": ("09:40", "18:30"),
        "2027-03-17": ("09:30", "18:05"),
        "2027-03-18": ("09:45", "18:15"),
    }
    events = []
    for day, (first, last) in days.items():
        middle = ("11:00", "11:30", "14:00", "14:15", "14:30", "14:45")
        events += [local(zone, f"{day} {hhmm}") for hhmm in (first, *middle, last)]
    events += [local(zone, f"2027-03-10 {t}") for t in ("07:00", "07:05")]  # 2 events: idle
    events += [local(zone, f"2027-03-13 {t}") for t in ("10:00", "10:30", "11:00")]  # 1 Saturday
    # The evening before the window: 02-19 is within 28 × 24 h of now, but not a day of it.
    events += [local(zone, f"2027-02-19 {t}") for t in ("21:00", "21:30", "23:59")]
    events += [local(zone, f"2027-03-19 {t}") for t in ("08:00", "08:10")]  # today so far
    await post_events(api, priya, events)
    # A third event today, an hour from now, would make today an active day; it is not yet.
    async with api.state.sessions() as session:
        await add_events(session, [("priya", now + timedelta(hours=1), "x")])
        await session.commit()

    cron = {"type": "cron", "timezone": zone}
    body = await suggestions(api, priya, timezone=zone)
    assert body == {
        "suggestions": [
            {
                "time": "09:25",
                "days": "Mon-Fri",
                "reason": "5 min before your typical start of day "
                "(median first activity 09:30 over 6 active weekdays)",
                "schedule": cron | {"expression": "25 9 * * 1-5"},
            },
            {
                "time": "13:45",
                "days": "Mon-Fri",
                "reason": "15 min before your busiest hour, 14:00–15:00 "
                "(median 4 events on active weekdays)",
                "schedule": cron | {"expression": "45 13 * * 1-5"},
            },
            {
                "time": "18:10",
                "days": "Mon-Fri",
                "reason": "end of your typical work day "
                "(median last activity 18:10 over 6 active weekdays)",
                "schedule": cron | {"expression": "10 18 * * 1-5"},
            },
        ],
        "note": None,
        "timezone": zone,
        "days": 28,
    }
    # Each suggestion is a schedule POST /jobs takes as it is.
    await assert_jobs_take(api, priya, body["suggestions"])


async def test_suggestions_and_heatmap_across_londons_spring_change_are_exact(api: Api) -> None:
    zone = "Europe/London"
    now = local(zone, "2027-04-02 18:00")  # a Friday, BST; 14 days: 03-20 to 04-02
    pin_without_call_activity(api, now)
    olivia = await api.headers("olivia")
    gmt_days = ["2027-03-22", "2027-03-23", "2027-03-24", "2027-03-25", "2027-03-26"]
    bst_days = ["2027-03-29", "2027-03-30", "2027-03-31", "2027-04-01", "2027-04-02"]
    events = []
    # Wall times differ between the weeks, so that reading either week with the other's
    # offset (or in UTC) moves both medians.
    for day in gmt_days:
        events += [local(zone, f"{day} {t}") for t in ("08:50", "10:05", "10:20", "10:40")]
        events += [local(zone, f"{day} {t}") for t in ("13:00", "17:30")]
    for day in bst_days:
        events += [local(zone, f"{day} {t}") for t in ("09:10", "10:05", "10:20", "10:40")]
        events += [local(zone, f"{day} {t}") for t in ("13:00", "17:50")]
    events += [local(zone, f"2027-03-27 {t}") for t in ("10:20", "10:50", "11:10")]  # GMT
    events += [local(zone, f"2027-03-28 {t}") for t in ("10:40", "11:00", "11:30")]  # BST
    await post_events(api, olivia, events)

    cron = {"type": "cron", "timezone": zone}
    body = await suggestions(api, olivia, timezone=zone, days=14)
    assert body == {
        "suggestions": [
            {
                "time": "08:45",
                "days": "Mon-Fri",
                "reason": "5 min before your typical start of day "
                "(median first activity 08:50 over 10 active weekdays)",
                "schedule": cron | {"expression": "45 8 * * 1-5"},
            },
            {
                "time": "09:45",
                "days": "Mon-Fri",
                "reason": "15 min before your busiest hour, 10:00–11:00 "
                "(median 3 events on active weekdays)",
                "schedule": cron | {"expression": "45 9 * * 1-5"},
            },
            {
                "time": "17:30",
                "days": "Mon-Fri",
                "reason": "end of your typical work day "
                "(median last activity 17:30 over 10 active weekdays)",
                "schedule": cron | {"expression": "30 17 * * 1-5"},
            },
            {
                "time": "10:15",
                "days": "Sat-Sun",
                "reason": "5 min before your typical weekend start "
                "(median first activity 10:20 on 2 of 4 weekend days)",
                "schedule": cron | {"expression": "15 10 * * 0,6"},
            },
        ],
        "note": None,
        "timezone": zone,
        "days": 14,
    }
    await assert_jobs_take(api, olivia, body["suggestions"])

    def grid(cells: dict[tuple[int, int], int]) -> list[list[int]]:
        rows = [[0] * 24 for _ in range(7)]
        for (weekday, hour), n in cells.items():
            rows[weekday][hour] = n
        return rows

    # Each weekday row holds one GMT and one BST day: the same wall hours but 08:50 / 09:10.
    weekdays = {(d, h): n for d in range(5) for h, n in ((8, 1), (9, 1), (10, 6), (13, 2), (17, 2))}
    london = await heatmap(api, olivia, zone, 14)
    assert london["grid"] == grid(weekdays | {(5, 10): 2, (5, 11): 1, (6, 10): 1, (6, 11): 2})
    assert london["total"] == 66 and london["max"] == 6
    assert datetime.fromisoformat(london["since"]) == local(zone, "2027-03-20 00:00")
    # In UTC the BST week is an hour earlier: 08:10, 09:05-09:40, 12:00, 16:50.
    utc_weekdays = {
        (d, h): n
        for d in range(5)
        for h, n in ((8, 2), (9, 3), (10, 3), (12, 1), (13, 1), (16, 1), (17, 1))
    }
    in_utc = await heatmap(api, olivia, "UTC", 14)
    assert in_utc["grid"] == grid(utc_weekdays | {(5, 10): 2, (5, 11): 1, (6, 9): 1, (6, 10): 2})
    assert in_utc["total"] == 66 and in_utc["max"] == 3
