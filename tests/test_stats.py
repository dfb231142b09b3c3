"""Stats from the index (SPEC §11): seeded runs with known times, several zones, both databases."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api.index.models import Job, Run
from tests.conftest import Api

BASE = "/api/scheduler"


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


def midnight(now: datetime, zone: str) -> datetime:
    tz = ZoneInfo(zone)
    return datetime.combine(now.astimezone(tz).date(), time(), tzinfo=tz).astimezone(UTC)


async def seed(api: Api) -> tuple[datetime, list[datetime]]:
    """Alice's jobs and runs, one job of Bob's; returns now and the start of every run of job_a."""
    now = datetime.now(UTC)
    rows: list[Any] = [
        job_row("job_a", "alice", consecutive_failures=2),
        job_row("job_b", "alice"),
        job_row("job_c", "alice"),
        job_row("job_p", "alice", "paused"),
        job_row("job_done", "alice", "completed"),
        job_row("job_gone", "alice", deleted_at=now),
        job_row("job_bob", "bob", "paused"),
    ]
    # Finished runs, completed (now - days) ago, with their durations.
    finished = [
        ("completed", 2, 10.0),
        ("completed", 3, 20.0),
        ("completed", 4, 40.0),
        ("failed", 5, 30.0),
        ("timed_out", 6, 60.0),
        ("cancelled", 3, 5.0),
        ("skipped", 2, 1.0),
        ("completed", 8, 50.0),
    ]
    starts = []
    for i, (status, days_ago, duration) in enumerate(finished):
        started = now - timedelta(days=days_ago, seconds=duration)
        starts.append(started)
        rows.append(
            run_row(f"run_f{i}", "job_a", "alice", status, started=started, duration=duration)
        )
    # Running runs on both sides of local midnights.
    today = [
        midnight(now, "America/New_York"),
        midnight(now, "America/New_York") - timedelta(seconds=1),
        midnight(now, "Asia/Kolkata"),
        midnight(now, "Asia/Kolkata") - timedelta(seconds=1),
        now - timedelta(seconds=1),
    ]
    for i, started in enumerate(today):
        starts.append(started)
        rows.append(run_row(f"run_t{i}", "job_a", "alice", "running", started=started))
    rows.append(run_row("run_bob", "job_bob", "bob", "failed", started=now, duration=1.0))
    async with api.state.sessions() as session:
        session.add_all(rows)
        await session.commit()
    return now, starts


async def test_stats_count_jobs_runs_today_and_outcomes_per_zone(api: Api) -> None:
    now, starts = await seed(api)
    alice = await api.headers("alice")

    body = (await api.http.get(f"{BASE}/stats", headers=alice)).json()
    assert body == {
        "total_jobs": 5,
        "active_jobs": 3,
        "total_runs_today": sum(1 for s in starts if s >= midnight(now, "UTC")),
        "success_rate": 0.6,  # 3 completed of 5 with an outcome in the last 7 days
        "avg_duration_seconds": 32.0,  # (10 + 20 + 40 + 30 + 60) / 5
        "jobs_by_status": {"active": 3, "completed": 1, "paused": 1},
        "timezone": "UTC",
        "days": 7,
    }
    for zone in ("America/New_York", "Asia/Kolkata", "Pacific/Kiritimati"):
        response = await api.http.get(f"{BASE}/stats", params={"timezone": zone}, headers=alice)
        expected = sum(1 for s in starts if s >= midnight(now, zone))
        assert response.json()["total_runs_today"] == expected, zone
    # The New York and Kolkata midnights themselves count; a second before does not.
    ny = (
        await api.http.get(f"{BASE}/stats", params={"timezone": "America/New_York"}, headers=alice)
    ).json()
    assert ny["total_runs_today"] >= 2

    ten = (await api.http.get(f"{BASE}/stats", params={"days": 10}, headers=alice)).json()
    assert ten["success_rate"] == 0.6667 and ten["avg_duration_seconds"] == 35.0

    bob = (await api.http.get(f"{BASE}/stats", headers=await api.headers("bob"))).json()
    assert bob["total_jobs"] == 1 and bob["jobs_by_status"] == {"paused": 1}
    assert bob["success_rate"] == 0.0 and bob["avg_duration_seconds"] == 1.0

    nobody = (await api.http.get(f"{BASE}/stats", headers=await api.headers("carol"))).json()
    assert nobody["total_jobs"] == 0 and nobody["jobs_by_status"] == {}
    assert nobody["success_rate"] is None and nobody["avg_duration_seconds"] is None


async def test_job_stats_counts_durations_last_run_and_runs_per_local_day(api: Api) -> None:
    now, starts = await seed(api)
    alice = await api.headers("alice")

    for zone in ("America/New_York", "Asia/Kolkata", "UTC"):
        response = await api.http.get(
            f"{BASE}/jobs/job_a/stats", params={"timezone": zone}, headers=alice
        )
        assert response.status_code == 200, response.text
        body = response.json()
        tz = ZoneInfo(zone)
        assert body["total_runs"] == 13
        assert body["runs_by_status"] == {
            "cancelled": 1,
            "completed": 4,
            "failed": 1,
            "running": 5,
            "skipped": 1,
            "timed_out": 1,
        }
        assert body["success_rate"] == 0.6667  # 4 completed of 6 with an outcome
        # Outcome durations 10 20 30 40 50 60: interpolated p50 = 35, p95 = 50 + 0.75 * 10.
        assert body["duration_seconds"] == {"mean": 35.0, "p50": 35.0, "p95": 57.5}
        assert body["consecutive_failures"] == 2
        last = body["last_run"]
        assert last["id"] == "run_t4" and last["status"] == "running"
        assert datetime.fromisoformat(last["started_at"]) == starts[-1]
        assert (
            datetime.fromisoformat(last["started_at"]).utcoffset()
            == starts[-1].astimezone(tz).utcoffset()
        )

        days = [datetime.fromisoformat(d["date"]).date() for d in body["runs_per_day"]]
        today = now.astimezone(tz).date()
        assert days == [today - timedelta(days=29 - i) for i in range(30)]
        local_days = Counter(s.astimezone(tz).date() for s in starts)
        assert {
            d: n for d, n in zip(days, [d["count"] for d in body["runs_per_day"]], strict=True) if n
        } == {d: n for d, n in local_days.items() if d >= days[0]}, zone
    ny = (
        await api.http.get(
            f"{BASE}/jobs/job_a/stats", params={"timezone": "America/New_York"}, headers=alice
        )
    ).json()["runs_per_day"]
    # The run at New York midnight is today's; the one a second earlier is yesterday's.
    assert ny[-1]["count"] >= 2 and ny[-2]["count"] >= 1

    empty = (await api.http.get(f"{BASE}/jobs/job_b/stats", headers=alice)).json()
    assert empty["total_runs"] == 0 and empty["runs_by_status"] == {}
    assert empty["success_rate"] is None and empty["last_run"] is None
    assert empty["duration_seconds"] == {"mean": None, "p50": None, "p95": None}
    assert sum(d["count"] for d in empty["runs_per_day"]) == 0


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
