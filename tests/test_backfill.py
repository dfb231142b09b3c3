"""Backfill through Temporal's schedule backfill, against a real Temporal server (docs/api.md,
``POST /api/scheduler/jobs/{job_id}/backfill``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from temporalio.worker import Worker

from tests.helpers.api import JOBS, Api, eventually
from tests.helpers.servers import Reply, serve

NY = "America/New_York"


async def create(api: Api, headers: dict[str, str], expression: str, **extra: Any) -> str:
    body = {
        "name": f"backfilled {expression}",
        "goal": "say hi",
        "agent_id": "echo",
        # Paused: only the backfill runs it, so every run the test sees is the backfill's.
        "enabled": False,
        "schedule": {"type": "cron", "expression": expression, "timezone": NY},
    } | extra
    answer = await api.http.post(JOBS, json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def finished_runs(api: Api, headers: dict[str, str], job_id: str) -> list[dict[str, Any]]:
    page = await api.http.get(f"{JOBS}/{job_id}/runs", params={"limit": 200}, headers=headers)
    assert page.status_code == 200, page.text
    return [r for r in page.json()["runs"] if r["status"] != "running"]


async def backfill(
    api: Api, headers: dict[str, str], job_id: str, start: str, end: str, **extra: Any
) -> Any:
    return await api.http.post(
        f"{JOBS}/{job_id}/backfill", json={"start": start, "end": end} | extra, headers=headers
    )


def utc(text: str) -> str:
    return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_backfill_over_dst_weekends_runs_each_nominal_time_once(
    api: Api, worker: Worker
) -> None:
    alice = await api.headers("alice")
    daily_0230 = await create(api, alice, "30 2 * * *")
    daily_0130 = await create(api, alice, "30 1 * * *")
    hourly = await create(api, alice, "0 * * * *")
    # 02:30 does not exist in New York on 2026-03-08: Temporal does not fire that day.
    # 01:30 happens twice on 2026-11-01 (EDT, then EST): Temporal fires both.
    # 00:00–04:00 local on 2026-11-01 holds five hours: 01:00 comes twice.
    cases = [
        (daily_0230, "2026-03-07T00:00:00", "2026-03-10T00:00:00",
         ["2026-03-07T07:30:00Z", "2026-03-09T06:30:00Z"]),
        (daily_0130, "2026-10-31T12:00:00", "2026-11-02T00:00:00",
         ["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"]),
        (hourly, "2026-11-01T00:00:00", "2026-11-01T04:00:00",
         ["2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z",
          "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z"]),
    ]  # fmt: skip
    for job_id, start, end, expected in cases:
        answer = await backfill(api, alice, job_id, start, end)
        assert answer.status_code == 202, answer.text
        assert answer.json()["fires"] == len(expected)
        assert answer.json()["already_run"] == 0
        assert utc(answer.json()["first_fire"]) == expected[0]
        assert utc(answer.json()["last_fire"]) == expected[-1]

    for job_id, _, _, expected in cases:

        async def all_ran(job_id: str = job_id, expected: list[str] = expected) -> bool:
            return len(await finished_runs(api, alice, job_id)) >= len(expected)

        await eventually(all_ran, f"{len(expected)} backfilled runs of {job_id}", timeout=60)

    await asyncio.sleep(2)  # anything Temporal would start twice would show by now
    for job_id, _, _, expected in cases:
        runs = await finished_runs(api, alice, job_id)
        nominal = sorted(utc(r["scheduled_at"]) for r in runs)
        assert nominal == expected, (job_id, nominal)
        assert {r["trigger"] for r in runs} == {"backfill"}
        assert {r["status"] for r in runs} == {"completed"}
        suffix = job_id.removeprefix("job_")
        assert sorted(r["id"] for r in runs) == [f"run_{suffix}-{t}" for t in expected]
        stats = (await api.http.get(f"{JOBS}/{job_id}/stats", headers=alice)).json()
        assert stats["total_runs"] == len(expected)

    # Asked again, and over a wider range: only the fires that never ran run.
    again = await backfill(api, alice, hourly, "2026-11-01T00:00:00", "2026-11-01T04:00:00")
    assert again.status_code == 202
    assert (again.json()["fires"], again.json()["already_run"]) == (0, 5)
    wider = await backfill(api, alice, hourly, "2026-10-31T23:00:00", "2026-11-01T05:00:00")
    assert (wider.json()["fires"], wider.json()["already_run"]) == (2, 5)

    async def seven() -> bool:
        return len(await finished_runs(api, alice, hourly)) >= 7

    await eventually(seven, "the two new fires", timeout=30)
    await asyncio.sleep(2)
    nominal = sorted(utc(r["scheduled_at"]) for r in await finished_runs(api, alice, hourly))
    assert nominal == [
        "2026-11-01T03:00:00Z", "2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z",
        "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z", "2026-11-01T08:00:00Z",
        "2026-11-01T09:00:00Z",
    ]  # fmt: skip

    # The calendar shows backfilled runs at their nominal times, as backfills.
    calendar = await api.http.get(
        "/api/scheduler/calendar-data",
        params={"start": "2026-03-07T00:00:00", "end": "2026-03-10T00:00:00", "timezone": NY},
        headers=alice,
    )
    assert calendar.status_code == 200, calendar.text
    events = [e for e in calendar.json()["events"] if e["job_id"] == daily_0230]
    assert [(utc(e["time"]), e["kind"], e["trigger"]) for e in events] == [
        ("2026-03-07T07:30:00Z", "run", "backfill"),
        ("2026-03-09T06:30:00Z", "run", "backfill"),
    ]


async def test_bad_backfills_are_refused_naming_the_field(api: Api, worker: Worker) -> None:
    alice = await api.headers("alice")
    every_minute = await create(api, alice, "* * * * *")
    cases = [
        ("2026-03-02T00:00:00", "2026-03-01T00:00:00", "end", "after start"),
        ("2026-03-01T00:00:00", "2026-03-01T00:00:00", "end", "after start"),
        ("2026-03-01T00:00:00", "2099-01-01T00:00:00", "end", "past"),
        # 1,440 fires in a day: over the 1,000 a backfill may run.
        ("2026-03-01T00:00:00", "2026-03-02T00:00:00", "end", "1,000"),
        ("1990-01-01T00:00:00", "2026-03-01T00:00:00", "start", ""),
        ("yesterday", "2026-03-01T00:00:00", "start", ""),
    ]
    for start, end, field, fragment in cases:
        answer = await backfill(api, alice, every_minute, start, end)
        assert answer.status_code == 422, (start, end, answer.text)
        details = {d["field"]: d["message"] for d in answer.json()["details"]}
        assert field in details, details
        assert fragment in details[field], details
    bad_overlap = await backfill(
        api, alice, every_minute, "2026-03-01T00:00", "2026-03-01T01:00", overlap="sometimes"
    )
    assert bad_overlap.status_code == 422
    assert bad_overlap.json()["details"][0]["field"] == "overlap"
    # Exactly 1,000 fires is allowed.
    ok = await backfill(api, alice, every_minute, "2026-03-01T00:00:00", "2026-03-01T16:40:00")
    assert ok.status_code == 202, ok.text
    assert ok.json()["fires"] == 1_000
    await api.http.delete(f"{JOBS}/{every_minute}?cancel_running=true", headers=alice)

    one_off = await api.http.post(
        JOBS,
        json={
            "name": "once",
            "goal": "g",
            "agent_id": "echo",
            "schedule": {"type": "at", "datetime": "2099-01-01T00:00:00Z"},
        },
        headers=alice,
    )
    refused = await backfill(
        api, alice, one_off.json()["id"], "2026-03-01T00:00:00", "2026-03-02T00:00:00"
    )
    assert refused.status_code == 409

    bob = await api.headers("bob")
    hidden = await backfill(api, bob, every_minute, "2026-03-01T00:00", "2026-03-01T01:00")
    assert hidden.status_code == 404


async def test_a_backfilled_run_is_delivered_as_a_backfill(api: Api, worker: Worker) -> None:
    alice = await api.headers("alice")
    for server in serve():
        hook = server.script("/hook", Reply(200, {"ok": True}))
        job_id = await create(
            api, alice, "0 12 * * *", delivery={"channel": f"webhook:{hook}", "format": "json"}
        )
        answer = await backfill(api, alice, job_id, "2026-06-01T00:00:00", "2026-06-02T00:00:00")
        assert answer.json()["fires"] == 1
        await server.wait_for_call("/hook", timeout=30)
        delivered = server.calls("/hook")[0].body["run"]
        assert delivered["trigger"] == "backfill"
        assert delivered["run_id"] == f"run_{job_id.removeprefix('job_')}-2026-06-01T16:00:00Z"
