"""Stats from the index (docs/api.md, "Stats and status"): seeded runs with known times, several
zones, DST days, both databases. "Now" is pinned through the clock dependency; every expected number
is worked out by hand from the seeded instants (UTC) and the zones' offsets, noted beside them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from api.core.index.models import Job, Run
from tests.helpers.api import Api

BASE = "/api/scheduler"
# A day without a DST change anywhere below (New York EDT -4, Kolkata +5:30, Kiritimati +14).
NOW = datetime(2027, 6, 15, 12, tzinfo=UTC)
# A job stats' usage when no run reported any.
NO_USAGE = {"runs": 0, "input_tokens": 0, "output_tokens": 0, "total_tokens": 0, "cost_usd": 0.0}


def utc(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM:SS[.f]`` in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def job_row(job_id: str, owner: str, status: str = "active", **extra: Any) -> Job:
    return Job(
        id=job_id,
        owner=owner,
        name=job_id,
        goal="g",
        agent_id="echo",
        schedule={"type": "every", "interval": 3600, "timezone": "UTC"},
        timezone="UTC",
        status=status,
        timeout_seconds=60,
        overlap="skip",
        max_consecutive_failures=5,
        **extra,
    )


def run_row(
    run_id: str,
    job_id: str,
    owner: str,
    status: str,
    *,
    started: datetime,
    duration: float | None = None,
) -> Run:
    return Run(
        id=run_id,
        job_id=job_id,
        owner=owner,
        trigger="schedule",
        status=status,
        started_at=started,
        completed_at=None if duration is None else started + timedelta(seconds=duration),
        duration_seconds=duration,
    )


def runs_of(
    job_id: str, owner: str, runs: list[tuple[str, str, float | None]], prefix: str = ""
) -> list[Run]:
    """Rows for ``(status, UTC start, duration)`` triples, ids ``<prefix or job>_<n>``."""
    return [
        run_row(
            f"{prefix or job_id}_{i}", job_id, owner, status, started=utc(start), duration=duration
        )
        for i, (status, start, duration) in enumerate(runs)
    ]


async def insert(api: Api, rows: list[Any]) -> None:
    async with api.state.sessions() as session:
        session.add_all(rows)
        await session.commit()


def per_day(last: date, counts: dict[str, int]) -> list[dict[str, Any]]:
    """The 30 ``runs_per_day`` entries ending with ``last``: ``counts`` by ISO date, else 0."""
    days = [(last - timedelta(days=29 - i)).isoformat() for i in range(30)]
    assert set(counts) <= set(days), "an expected day outside the window"
    return [{"date": d, "count": counts.get(d, 0)} for d in days]


async def seed(api: Api) -> None:
    """Alice's jobs and runs, one job of Bob's; ``NOW`` is 2027-06-15 12:00Z."""
    rows: list[Any] = [
        job_row("job_a", "alice", consecutive_failures=2),
        job_row("job_b", "alice"),
        job_row("job_c", "alice"),
        job_row("job_p", "alice", "paused"),
        job_row("job_done", "alice", "completed"),
        job_row("job_gone", "alice", deleted_at=NOW),
        job_row("job_bob", "bob", "paused"),
    ]
    rows += runs_of(
        "job_a",
        "alice",
        [
            # Finished runs: (status, start, duration); completed 2, 3, 4, 5, 6, 3, 2, 8 days ago.
            ("completed", "2027-06-13 11:59:50", 10.0),
            ("completed", "2027-06-12 11:59:40", 20.0),
            ("completed", "2027-06-11 11:59:20", 40.0),
            ("failed", "2027-06-10 11:59:30", 30.0),
            ("timed_out", "2027-06-09 11:59:00", 60.0),
            ("cancelled", "2027-06-12 11:59:55", 5.0),
            ("skipped", "2027-06-13 11:59:59", 1.0),
            ("completed", "2027-06-07 11:59:10", 50.0),
        ],
        prefix="run_f",
    )
    rows += runs_of(
        "job_a",
        "alice",
        [
            # Running runs on both sides of local midnights.
            ("running", "2027-06-15 04:00:00", None),  # New York midnight (EDT)
            ("running", "2027-06-15 03:59:59", None),
            ("running", "2027-06-14 18:30:00", None),  # Kolkata midnight
            ("running", "2027-06-14 18:29:59", None),
            ("running", "2027-06-15 11:59:59", None),  # a second before now
        ],
        prefix="run_t",
    )
    rows.append(run_row("run_bob", "job_bob", "bob", "failed", started=NOW, duration=1.0))
    await insert(api, rows)


async def get_stats(api: Api, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await api.http.get(f"{BASE}/stats", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def get_job_stats(
    api: Api, headers: dict[str, str], job_id: str, zone: str
) -> dict[str, Any]:
    response = await api.http.get(
        f"{BASE}/jobs/{job_id}/stats", params={"timezone": zone}, headers=headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_stats_count_jobs_runs_today_and_outcomes_per_zone(api: Api) -> None:
    await seed(api)
    api.pin(NOW)
    alice = await api.headers("alice")

    assert await get_stats(api, alice) == {
        "total_jobs": 5,
        "active_jobs": 3,
        "total_runs_today": 3,  # since 06-15 00:00Z: 04:00, 03:59:59, 11:59:59
        "success_rate": 0.6,  # 3 completed of 5 with an outcome in the last 7 days
        "avg_duration_seconds": 32.0,  # (10 + 20 + 40 + 30 + 60) / 5
        "jobs_by_status": {"active": 3, "completed": 1, "paused": 1},
        "timezone": "UTC",
        "days": 7,
        "open_incidents": 0,
    }
    today = {
        # Midnight 04:00Z: the run at it and the one before now; 03:59:59 was yesterday.
        "America/New_York": 2,
        # Midnight 06-14 18:30Z: that run and the three after it; 18:29:59 was yesterday.
        "Asia/Kolkata": 4,
        # Now is 06-16 02:00 local, midnight 06-15 10:00Z: only the run a second before now.
        "Pacific/Kiritimati": 1,
    }
    for zone, expected in today.items():
        body = await get_stats(api, alice, timezone=zone)
        assert body["total_runs_today"] == expected, zone
        assert body["timezone"] == zone and body["success_rate"] == 0.6

    ten = await get_stats(api, alice, days=10)
    # + the run completed 8 days ago: 4 of 6, (150 + 50) / 6 = 35.
    assert ten["success_rate"] == 0.6667 and ten["avg_duration_seconds"] == 35.0
    one = await get_stats(api, alice, days=1)
    assert one["success_rate"] is None and one["avg_duration_seconds"] is None

    bob = await get_stats(api, await api.headers("bob"))
    assert bob == {
        "total_jobs": 1,
        "active_jobs": 0,
        "total_runs_today": 1,
        "success_rate": 0.0,
        "avg_duration_seconds": 1.0,
        "jobs_by_status": {"paused": 1},
        "timezone": "UTC",
        "days": 7,
        "open_incidents": 0,
    }

    nobody = await get_stats(api, await api.headers("carol"))
    assert nobody["total_jobs"] == 0 and nobody["jobs_by_status"] == {}
    assert nobody["total_runs_today"] == 0
    assert nobody["success_rate"] is None and nobody["avg_duration_seconds"] is None


async def test_job_stats_counts_durations_last_run_and_runs_per_local_day(api: Api) -> None:
    await seed(api)
    api.pin(NOW)
    alice = await api.headers("alice")
    # The finished runs start near 12:00Z: the same date in all three zones.
    finished = {
        "2027-06-07": 1,
        "2027-06-09": 1,
        "2027-06-10": 1,
        "2027-06-11": 1,
        "2027-06-12": 2,
        "2027-06-13": 2,
    }
    last_started = {
        "America/New_York": "2027-06-15T07:59:59-04:00",
        "Asia/Kolkata": "2027-06-15T17:29:59+05:30",
        "UTC": "2027-06-15T11:59:59Z",
    }
    running_days = {
        # 04:00Z is 00:00 EDT (today); 03:59:59, 18:30 and 18:29:59 are 06-14.
        "America/New_York": {"2027-06-14": 3, "2027-06-15": 2},
        # 18:30Z is 00:00 IST 06-15; only 18:29:59 is 06-14.
        "Asia/Kolkata": {"2027-06-14": 1, "2027-06-15": 4},
        "UTC": {"2027-06-14": 2, "2027-06-15": 3},
    }
    for zone, running in running_days.items():
        assert await get_job_stats(api, alice, "job_a", zone) == {
            "job_id": "job_a",
            "total_runs": 13,
            "runs_by_status": {
                "cancelled": 1,
                "completed": 4,
                "failed": 1,
                "running": 5,
                "skipped": 1,
                "timed_out": 1,
            },
            "success_rate": 0.6667,  # 4 completed of 6 with an outcome
            # Outcome durations 10 20 30 40 50 60: interpolated p50 = 35, p95 = 50 + 0.75 * 10.
            "duration_seconds": {"mean": 35.0, "p50": 35.0, "p95": 57.5},
            "last_run": {
                "id": "run_t_4",
                "status": "running",
                "started_at": last_started[zone],
                "completed_at": None,
            },
            "consecutive_failures": 2,
            # Today is 06-15 in all three zones (08:00 EDT, 17:30 IST).
            "runs_per_day": per_day(date(2027, 6, 15), finished | running),
            "timezone": zone,
            # No run reported usage and the job has no budget (tests/test_budgets.py has both).
            "usage": NO_USAGE,
            "budget": None,
        }, zone

    empty = await get_job_stats(api, alice, "job_b", "UTC")
    assert empty["total_runs"] == 0 and empty["runs_by_status"] == {}
    assert empty["success_rate"] is None and empty["last_run"] is None
    assert empty["duration_seconds"] == {"mean": None, "p50": None, "p95": None}
    assert empty["runs_per_day"] == per_day(date(2027, 6, 15), {})


async def test_stats_are_owner_scoped_and_validate_their_parameters(api: Api) -> None:
    await seed(api)
    alice = await api.headers("alice")
    for path in ("/jobs/job_bob/stats", "/jobs/job_gone/stats", "/jobs/job_nope/stats"):
        response = await api.http.get(BASE + path, headers=alice)
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    bad_zone = await api.http.get(f"{BASE}/stats", params={"timezone": "Mars/Base"}, headers=alice)
    assert bad_zone.status_code == 422
    assert bad_zone.json()["details"][0]["field"] == "timezone"
    bad_days = await api.http.get(f"{BASE}/stats", params={"days": 0}, headers=alice)
    assert bad_days.status_code == 422 and bad_days.json()["details"][0]["field"] == "days"
    assert (await api.http.get(f"{BASE}/stats")).status_code == 401


async def test_stats_today_and_finished_windows_across_dst_changes(api: Api) -> None:
    """Days of 23, 25 and 24.5 hours: "today" starts at local midnight, never 24 h before now;
    ``days`` is a span of ``days`` × 24 h back from now."""
    running = "running"
    await insert(
        api,
        [
            job_row("spring_a", "spring"),
            job_row("spring_b", "spring", "failed"),
            *runs_of(
                "spring_a",
                "spring",
                [
                    # New York springs forward on 2027-03-14 (23 hours); now is 23:30 EDT.
                    (running, "2027-03-14 04:59:59", None),  # 03-13 23:59:59 EST
                    (running, "2027-03-14 05:00:00", None),  # New York midnight (EST)
                    (running, "2027-03-14 09:59:59", None),
                    (running, "2027-03-14 10:00:00", None),  # Kiritimati midnight (+14)
                    (running, "2027-03-14 18:29:59", None),
                    (running, "2027-03-14 18:30:00", None),  # Kolkata midnight
                    (running, "2027-03-14 23:59:59", None),
                    (running, "2027-03-15 00:00:00", None),  # UTC midnight
                    (running, "2027-03-15 03:29:59", None),  # a second before now
                    # Finished: all started before every midnight above.
                    ("completed", "2027-03-14 04:00:00", 30.0),  # within 24 h, not today
                    ("failed", "2027-03-14 03:29:00", 59.0),  # ends 1 s before now - 1 day
                    ("timed_out", "2027-03-10 12:00:00", 90.0),
                    ("completed", "2027-03-08 03:29:00", 60.0),  # ends at now - 7 days
                    ("completed", "2027-03-08 03:28:00", 59.0),  # ends 1 s before it
                    ("cancelled", "2027-03-12 12:00:00", 5.0),
                    ("skipped", "2027-03-12 12:00:10", 1.0),
                    ("completed", "2027-03-01 12:00:00", 200.0),
                ],
            ),
            job_row("fall_a", "fall"),
            job_row("fall_b", "fall", "completed"),
            *runs_of(
                "fall_a",
                "fall",
                [
                    # New York falls back on 2027-11-07 (25 hours); now is 23:30 EST.
                    (running, "2027-11-07 03:59:59", None),  # 11-06 23:59:59 EDT
                    (running, "2027-11-07 04:00:00", None),  # New York midnight (EDT)
                    (running, "2027-11-07 04:15:00", None),  # today, yet 24 h 15 min ago
                    (running, "2027-11-07 05:30:00", None),  # 01:30 EDT
                    (running, "2027-11-07 06:30:00", None),  # 01:30 EST
                    (running, "2027-11-08 04:29:59", None),  # a second before now
                    ("completed", "2027-11-06 12:00:00", 12.5),
                    ("failed", "2027-11-01 04:29:50", 10.0),  # ends at now - 7 days
                    ("completed", "2027-11-01 04:29:49", 10.0),  # ends 1 s before it
                ],
            ),
            job_row("london_a", "london", "paused"),
            *runs_of(
                "london_a",
                "london",
                [
                    # London springs forward on 2027-03-28 at 01:00 GMT; now is 12:00 BST.
                    (running, "2027-03-27 23:59:59", None),
                    (running, "2027-03-28 00:00:00", None),  # London (and UTC) midnight
                    (running, "2027-03-28 00:59:59", None),  # 00:59:59 GMT
                    (running, "2027-03-28 01:00:00", None),  # 02:00 BST
                    (running, "2027-03-28 04:00:00", None),  # New York midnight (EDT)
                    (running, "2027-03-28 10:59:59", None),
                ],
            ),
            job_row("howe_a", "howe"),
            *runs_of(
                "howe_a",
                "howe",
                [
                    # Lord Howe falls back half an hour on 2027-04-04 at 02:00 (+11 to +10:30):
                    # 24.5 hours; now is 23:59 +10:30.
                    (running, "2027-04-03 12:59:59", None),
                    (running, "2027-04-03 13:00:00", None),  # Lord Howe midnight (+11)
                    (running, "2027-04-03 13:15:00", None),  # today, yet 24 h 14 min ago
                    (running, "2027-04-03 14:45:00", None),  # 01:45 +11
                    (running, "2027-04-03 15:15:00", None),  # 01:45 +10:30
                    (running, "2027-04-04 13:28:59", None),  # a second before now
                    ("completed", "2027-04-03 12:00:00", 3.25),
                    ("failed", "2027-04-03 12:30:00", 1.5),
                ],
            ),
        ],
    )
    cases: list[tuple[str, datetime, dict[str, Any], dict[str, Any]]] = [
        # (owner, now, query, the numbers expected)
        (
            "spring",
            utc("2027-03-15 03:30:00"),
            {"timezone": "America/New_York"},
            # From 03-14 05:00Z: 8 runs. 7 days back is 03-08 03:30Z: 2 completed of 4,
            # (30 + 59 + 90 + 60) / 4.
            {"total_runs_today": 8, "success_rate": 0.5, "avg_duration_seconds": 59.75},
        ),
        (
            "spring",
            utc("2027-03-15 03:30:00"),
            {"timezone": "Pacific/Kiritimati"},
            {"total_runs_today": 6},
        ),
        (
            "spring",
            utc("2027-03-15 03:30:00"),
            {"timezone": "Asia/Kolkata"},
            {"total_runs_today": 4},
        ),
        ("spring", utc("2027-03-15 03:30:00"), {"timezone": "UTC"}, {"total_runs_today": 2}),
        (
            "spring",
            utc("2027-03-15 03:30:00"),
            {"timezone": "America/New_York", "days": 1},
            # Since 03-14 03:30Z only the 30 s run; the failure ended a second earlier.
            {"total_runs_today": 8, "success_rate": 1.0, "avg_duration_seconds": 30.0},
        ),
        (
            "spring",
            utc("2027-03-15 03:30:00"),
            {"timezone": "America/New_York", "days": 10},
            # + the 59 s completed run: 3 of 5, 298 / 5.
            {"success_rate": 0.6, "avg_duration_seconds": 59.6},
        ),
        (
            "spring",
            utc("2027-03-15 03:30:00"),
            {"timezone": "America/New_York", "days": 30},
            # + the 200 s run of 03-01: 4 of 6, 498 / 6.
            {"success_rate": 0.6667, "avg_duration_seconds": 83.0},
        ),
        (
            "fall",
            utc("2027-11-08 04:30:00"),
            {"timezone": "America/New_York"},
            # From 11-07 04:00Z: 5 runs. 7 days back is 11-01 04:30Z: 1 of 2, (12.5 + 10) / 2.
            {"total_runs_today": 5, "success_rate": 0.5, "avg_duration_seconds": 11.25},
        ),
        ("fall", utc("2027-11-08 04:30:00"), {"timezone": "UTC"}, {"total_runs_today": 1}),
        (
            "fall",
            utc("2027-11-08 04:30:00"),
            {"timezone": "America/New_York", "days": 8},
            # 2 of 3, 32.5 / 3.
            {"success_rate": 0.6667, "avg_duration_seconds": 10.833},
        ),
        (
            "london",
            utc("2027-03-28 11:00:00"),
            {"timezone": "Europe/London"},
            {"total_runs_today": 5, "success_rate": None, "avg_duration_seconds": None},
        ),
        (
            "london",
            utc("2027-03-28 11:00:00"),
            {"timezone": "America/New_York"},
            {"total_runs_today": 2},
        ),
        # Kolkata midnight is 03-27 18:30Z: all six.
        (
            "london",
            utc("2027-03-28 11:00:00"),
            {"timezone": "Asia/Kolkata"},
            {"total_runs_today": 6},
        ),
        (
            "howe",
            utc("2027-04-04 13:29:00"),
            {"timezone": "Australia/Lord_Howe"},
            {"total_runs_today": 5, "success_rate": 0.5, "avg_duration_seconds": 2.375},
        ),
        ("howe", utc("2027-04-04 13:29:00"), {"timezone": "UTC"}, {"total_runs_today": 1}),
    ]
    jobs = {
        "spring": {"active": 1, "failed": 1},
        "fall": {"active": 1, "completed": 1},
        "london": {"paused": 1},
        "howe": {"active": 1},
    }
    headers = {owner: await api.headers(owner) for owner in jobs}
    for owner, now, query, expected in cases:
        api.pin(now)
        body = await get_stats(api, headers[owner], **query)
        assert body == body | expected, (owner, query)
        assert body["jobs_by_status"] == jobs[owner]
        assert body["total_jobs"] == sum(jobs[owner].values())
        assert body["active_jobs"] == jobs[owner].get("active", 0)
        assert body["timezone"] == query["timezone"] and body["days"] == query.get("days", 7)


async def test_job_stats_runs_per_local_day_across_dst_changes(api: Api) -> None:
    """Each run falls in the local date it started on, on days of 23, 25 and 23.5 hours."""
    await insert(
        api,
        [
            job_row("job_spring", "alice"),
            *runs_of(
                "job_spring",
                "alice",
                [
                    ("completed", "2027-03-13 04:59:59", 12.0),  # 03-12 23:59:59 EST
                    ("completed", "2027-03-13 05:00:00", 3.0),  # 03-13 00:00 EST
                    ("failed", "2027-03-14 04:59:59", 45.0),  # 03-13 23:59:59 EST
                    ("completed", "2027-03-14 05:00:00", 7.5),  # 03-14 00:00 EST
                    ("timed_out", "2027-03-14 06:59:59", 90.0),  # 01:59:59 EST
                    ("completed", "2027-03-14 07:00:00", 30.0),  # 03:00 EDT
                    ("cancelled", "2027-03-15 03:59:59", 5.0),  # 03-14 23:59:59 EDT
                    ("running", "2027-03-15 04:00:00", None),  # 03-15 00:00 EDT
                ],
            ),
            job_row("job_fall", "alice", consecutive_failures=3),
            *runs_of(
                "job_fall",
                "alice",
                [
                    ("completed", "2027-11-07 03:59:59", 1.0),  # 11-06 23:59:59 EDT
                    ("failed", "2027-11-07 04:00:00", 2.0),  # 11-07 00:00 EDT
                    ("completed", "2027-11-07 05:30:00", 4.0),  # 01:30 EDT
                    ("completed", "2027-11-07 06:30:00", 8.0),  # 01:30 EST
                    ("timed_out", "2027-11-08 04:30:00", 100.0),  # 11-07 23:30 EST
                    ("skipped", "2027-11-08 05:00:00", 0.5),  # 11-08 00:00 EST
                ],
            ),
            job_row("job_london", "alice"),
            *runs_of(
                "job_london",
                "alice",
                [
                    ("completed", "2027-03-27 23:59:59", 2.0),  # 03-27 23:59:59 GMT
                    ("completed", "2027-03-28 00:00:00", 4.0),  # 03-28 00:00 GMT
                    ("completed", "2027-03-28 00:59:59", 6.0),  # 00:59:59 GMT
                    ("completed", "2027-03-28 01:00:00", 8.0),  # 02:00 BST
                    ("completed", "2027-03-28 22:59:59", 10.0),  # 23:59:59 BST
                    ("running", "2027-03-28 23:00:00", None),  # 03-29 00:00 BST
                ],
            ),
            job_row("job_howe", "alice"),
            *runs_of(
                "job_howe",
                "alice",
                [
                    # Lord Howe springs forward half an hour on 2027-10-03 at 02:00 (+10:30 to +11).
                    ("failed", "2027-10-02 13:29:59", 0.25),  # 10-02 23:59:59 +10:30
                    ("running", "2027-10-02 13:30:00", None),  # 10-03 00:00 +10:30
                    ("running", "2027-10-02 15:29:59", None),  # 01:59:59 +10:30
                    ("running", "2027-10-02 15:30:00", None),  # 02:30 +11
                    ("running", "2027-10-03 12:59:59", None),  # 23:59:59 +11
                    ("running", "2027-10-03 13:00:00", None),  # 10-04 00:00 +11
                ],
            ),
        ],
    )
    alice = await api.headers("alice")
    spring = {
        "job_id": "job_spring",
        "total_runs": 8,
        "runs_by_status": {
            "cancelled": 1,
            "completed": 4,
            "failed": 1,
            "running": 1,
            "timed_out": 1,
        },
        "success_rate": 0.6667,  # 4 of 6
        # 3 7.5 12 30 45 90: mean 187.5 / 6; p50 = 12 + 0.5 * 18; p95 (rank 4.75) = 45 + 0.75 * 45.
        "duration_seconds": {"mean": 31.25, "p50": 21.0, "p95": 78.75},
        "consecutive_failures": 0,
    }
    fall = {
        "job_id": "job_fall",
        "total_runs": 6,
        "runs_by_status": {"completed": 3, "failed": 1, "skipped": 1, "timed_out": 1},
        "success_rate": 0.6,  # 3 of 5
        # 1 2 4 8 100: mean 115 / 5; p50 = 4; p95 (rank 3.8) = 8 + 0.8 * 92.
        "duration_seconds": {"mean": 23.0, "p50": 4.0, "p95": 81.6},
        "consecutive_failures": 3,
    }
    london = {
        "job_id": "job_london",
        "total_runs": 6,
        "runs_by_status": {"completed": 5, "running": 1},
        "success_rate": 1.0,
        # 2 4 6 8 10: p95 (rank 3.8) = 8 + 0.8 * 2.
        "duration_seconds": {"mean": 6.0, "p50": 6.0, "p95": 9.6},
        "consecutive_failures": 0,
    }
    howe = {
        "job_id": "job_howe",
        "total_runs": 6,
        "runs_by_status": {"failed": 1, "running": 5},
        "success_rate": 0.0,
        "duration_seconds": {"mean": 0.25, "p50": 0.25, "p95": 0.25},
        "consecutive_failures": 0,
    }
    cases: list[tuple[dict[str, Any], str, datetime, dict[str, Any], date, dict[str, int]]] = [
        # (job, zone, now, last run, last local day, runs per local day)
        (
            spring,
            "America/New_York",
            utc("2027-03-20 16:00:00"),  # 12:00 EDT
            {"id": "job_spring_7", "status": "running"}
            | {"started_at": "2027-03-15T00:00:00-04:00", "completed_at": None},
            date(2027, 3, 20),
            # 03-14 is [05:00Z, 04:00Z next day): 23 hours, four runs.
            {"2027-03-12": 1, "2027-03-13": 2, "2027-03-14": 4, "2027-03-15": 1},
        ),
        (
            spring,
            "UTC",
            utc("2027-03-20 16:00:00"),
            {"id": "job_spring_7", "status": "running"}
            | {"started_at": "2027-03-15T04:00:00Z", "completed_at": None},
            date(2027, 3, 20),
            {"2027-03-13": 2, "2027-03-14": 4, "2027-03-15": 2},
        ),
        (
            spring,
            "America/New_York",
            utc("2027-04-12 16:00:00"),
            {"id": "job_spring_7", "status": "running"}
            | {"started_at": "2027-03-15T00:00:00-04:00", "completed_at": None},
            date(2027, 4, 12),
            # The 30 days start with 03-14 00:00 EST: the run a second earlier is out.
            {"2027-03-14": 4, "2027-03-15": 1},
        ),
        (
            fall,
            "America/New_York",
            utc("2027-11-20 17:00:00"),  # 12:00 EST
            {"id": "job_fall_5", "status": "skipped"}
            | {
                "started_at": "2027-11-08T00:00:00-05:00",
                "completed_at": "2027-11-08T00:00:00.500000-05:00",
            },
            date(2027, 11, 20),
            # 11-07 is [04:00Z, 05:00Z next day): 25 hours, both 01:30s and 23:30 EST.
            {"2027-11-06": 1, "2027-11-07": 4, "2027-11-08": 1},
        ),
        (
            fall,
            "UTC",
            utc("2027-11-20 17:00:00"),
            {"id": "job_fall_5", "status": "skipped"}
            | {
                "started_at": "2027-11-08T05:00:00Z",
                "completed_at": "2027-11-08T05:00:00.500000Z",
            },
            date(2027, 11, 20),
            {"2027-11-07": 4, "2027-11-08": 2},
        ),
        (
            london,
            "Europe/London",
            utc("2027-04-01 12:00:00"),
            {"id": "job_london_5", "status": "running"}
            | {"started_at": "2027-03-29T00:00:00+01:00", "completed_at": None},
            date(2027, 4, 1),
            # 03-28 is [00:00Z, 23:00Z): 23 hours.
            {"2027-03-27": 1, "2027-03-28": 4, "2027-03-29": 1},
        ),
        (
            london,
            "UTC",
            utc("2027-04-01 12:00:00"),
            {"id": "job_london_5", "status": "running"}
            | {"started_at": "2027-03-28T23:00:00Z", "completed_at": None},
            date(2027, 4, 1),
            {"2027-03-27": 1, "2027-03-28": 5},
        ),
        (
            howe,
            "Australia/Lord_Howe",
            utc("2027-10-10 01:00:00"),  # 12:00 +11
            {"id": "job_howe_5", "status": "running"}
            | {"started_at": "2027-10-04T00:00:00+11:00", "completed_at": None},
            date(2027, 10, 10),
            # 10-03 is [10-02 13:30Z, 10-03 13:00Z): 23.5 hours.
            {"2027-10-02": 1, "2027-10-03": 4, "2027-10-04": 1},
        ),
        (
            howe,
            "UTC",
            utc("2027-10-10 01:00:00"),
            {"id": "job_howe_5", "status": "running"}
            | {"started_at": "2027-10-03T13:00:00Z", "completed_at": None},
            date(2027, 10, 10),
            {"2027-10-02": 4, "2027-10-03": 2},
        ),
    ]
    for job, zone, now, last, last_day, counts in cases:
        api.pin(now)
        body = await get_job_stats(api, alice, job["job_id"], zone)
        assert body == job | {
            "last_run": last,
            "runs_per_day": per_day(last_day, counts),
            "timezone": zone,
            "usage": NO_USAGE,
            "budget": None,
        }, (job["job_id"], zone, now)
