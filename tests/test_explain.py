"""GET /jobs/{id}/explain against a real Temporal server and worker: each reason it gives."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.worker import Worker

from api.core.settings import Settings
from tests.helpers.api import JOBS, Api, eventually
from tests.helpers.servers import Reply, ScriptedServer, serve

NY = "America/New_York"

AGENTS_TOML = """
[agents.broken]
kind = "command"
command = ["{python}", "-c", "import sys; sys.exit('the agent broke')"]

[agents.slow]
kind = "command"
command = ["{python}", "-c", "import time; time.sleep(9)"]
"""


@pytest.fixture
def hook_server() -> Iterator[ScriptedServer]:
    yield from serve()


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    path = tmp_path / "agents.toml"
    path.write_text(AGENTS_TOML.format(python=sys.executable))
    settings.agents_file = path
    return settings


async def create(api: Api, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "explained",
        "goal": "say hi",
        "agent_id": "echo",
        "schedule": {"type": "cron", "expression": "30 2 * * *", "timezone": NY},
    } | overrides
    answer = await api.http.post(JOBS, json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def explain(api: Api, headers: dict[str, str], job_id: str, at: str) -> dict[str, Any]:
    answer = await api.http.get(f"{JOBS}/{job_id}/explain", params={"at": at}, headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def codes(explained: dict[str, Any]) -> list[str]:
    return [reason["code"] for reason in explained["reasons"]]


async def test_explain_reads_the_schedule_dst_creation_and_pauses(api: Api) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)

    gap = await explain(api, alice, job["id"], "2026-03-08T02:30:00")
    assert (gap["due"], gap["verdict"]) == (False, "not_due")
    assert codes(gap) == ["dst_gap", "not_a_fire"]
    assert "does not exist in America/New_York on 2026-03-08" in gap["reasons"][0]["message"]
    assert gap["nearest_fires"] == ["2026-03-07T02:30:00-05:00", "2026-03-09T02:30:00-04:00"]

    repeat = await explain(api, alice, job["id"], "2026-11-01T01:30:00-04:00")
    assert codes(repeat) == ["not_a_fire"]  # a 02:30 job: 01:30 is no fire of it
    hourly = await create(
        api, alice, schedule={"type": "cron", "expression": "30 1 * * *", "timezone": NY}
    )
    repeat = await explain(api, alice, hourly["id"], "2026-11-01T01:30:00-04:00")
    assert (repeat["due"], repeat["verdict"]) == (True, "did_not_run")
    assert codes(repeat) == ["dst_repeat", "created_after"]
    assert repeat["reasons"][0]["details"]["fires"] == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",
    ]

    off = await explain(api, alice, job["id"], "2026-11-01T02:31:00")
    assert (off["due"], codes(off)) == (False, ["not_a_fire"])
    assert off["nearest_fires"] == ["2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"]
    assert off["run"] is None

    ahead = await explain(api, alice, job["id"], job["next_run_at"])
    assert (ahead["due"], ahead["verdict"], codes(ahead)) == (True, "will_run", ["in_the_future"])
    await api.http.post(f"{JOBS}/{job['id']}/pause", headers=alice)
    held = await explain(api, alice, job["id"], job["next_run_at"])
    assert (held["verdict"], codes(held)) == ("will_not_run", ["paused"])
    assert "paused by user" in held["reasons"][0]["message"]

    bad = await api.http.get(f"{JOBS}/{job['id']}/explain", params={"at": "someday"}, headers=alice)
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "at"
    early = await api.http.get(
        f"{JOBS}/{job['id']}/explain", params={"at": "1990-01-01T00:00:00Z"}, headers=alice
    )
    assert early.status_code == 422 and early.json()["details"][0]["field"] == "at"
    bob = await api.headers("bob")
    hidden = await api.http.get(
        f"{JOBS}/{job['id']}/explain", params={"at": job["next_run_at"]}, headers=bob
    )
    assert hidden.status_code == 404


async def first_run(api: Api, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def finished() -> bool:
        page = await api.http.get(f"{JOBS}/{job_id}/runs", headers=headers)
        found[:] = [r for r in page.json()["runs"] if r["status"] != "running"]
        return bool(found)

    await eventually(finished, f"a finished run of {job_id}", timeout=40)
    return found[-1]


async def test_explain_tells_each_runs_outcome_delivery_and_a_pause(
    api: Api, worker: Worker, hook_server: ScriptedServer
) -> None:
    alice = await api.headers("alice")
    every_5s = {"type": "every", "interval": 5}
    hook = hook_server.script("/hook", Reply(200, {"ok": True}))
    gated = await create(
        api,
        alice,
        schedule=every_5s,
        condition={"type": "expression", "expression": "1 == 2", "stage": "before_run"},
    )
    broken = await create(api, alice, schedule=every_5s, agent_id="broken")
    delivered = await create(
        api, alice, schedule=every_5s, delivery={"channel": f"webhook:{hook}", "format": "text"}
    )
    refused_hook = hook_server.script("/refused", Reply(400, {"error": "no"}))
    refused = await create(
        api,
        alice,
        schedule=every_5s,
        delivery={"channel": f"webhook:{refused_hook}", "format": "text"},
    )
    plain = await create(api, alice, schedule=every_5s)
    runs = await asyncio.gather(
        *(first_run(api, alice, job["id"]) for job in (gated, broken, delivered, plain, refused))
    )

    skipped = await explain(api, alice, gated["id"], runs[0]["scheduled_at"])
    assert (skipped["due"], skipped["verdict"]) == (True, "ran")
    assert codes(skipped) == ["condition_false", "no_delivery"]
    assert skipped["reasons"][0]["details"]["condition_result"]["value"] is False
    assert skipped["run"]["id"] == runs[0]["id"]

    failed = await explain(api, alice, broken["id"], runs[1]["scheduled_at"])
    assert codes(failed) == ["failed", "no_delivery"]
    assert "the agent broke" in failed["reasons"][0]["message"]
    assert failed["reasons"][0]["details"]["error"] == runs[1]["error"]

    sent = await explain(api, alice, delivered["id"], runs[2]["scheduled_at"])
    assert codes(sent) == ["completed", "delivered"]
    assert sent["reasons"][1]["details"]["delivery"]["status"] == "delivered"

    unsent = await explain(api, alice, refused["id"], runs[4]["scheduled_at"])
    assert codes(unsent) == ["completed", "not_delivered"]
    assert unsent["reasons"][1]["details"]["delivery"]["status"] == "failed"
    assert "400" in unsent["reasons"][1]["message"]

    for job in (gated, broken, delivered, refused):
        await api.http.post(f"{JOBS}/{job['id']}/pause", headers=alice)
    paused = await api.http.post(f"{JOBS}/{plain['id']}/pause", headers=alice)
    paused_at = datetime.fromisoformat(paused.json()["updated_at"])
    await asyncio.sleep(6)
    # The first fire after the pause: a multiple of 5 s.
    fire = datetime.fromtimestamp((int(paused_at.timestamp()) // 5 + 1) * 5).astimezone()
    held = await explain(api, alice, plain["id"], fire.isoformat())
    assert (held["due"], held["verdict"], codes(held)) == (True, "did_not_run", ["paused"])
    details = held["reasons"][0]["details"]
    assert details["paused_by"] == "api" and details["paused_reason"] == "paused by user"


async def test_explain_names_a_fire_skipped_by_the_overlap_policy(api: Api, worker: Worker) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, schedule={"type": "every", "interval": 5}, agent_id="slow")
    running: list[dict[str, Any]] = []

    async def started() -> bool:
        page = await api.http.get(f"{JOBS}/{job['id']}/runs", headers=alice)
        running[:] = page.json()["runs"]
        return bool(running)

    await eventually(started, "the slow run's start", timeout=20)
    first = datetime.fromisoformat(running[-1]["scheduled_at"])
    skipped_fire = first + timedelta(seconds=5)
    await asyncio.sleep(max(0.0, (skipped_fire - datetime.now().astimezone()).total_seconds() + 1))
    explained = await explain(api, alice, job["id"], skipped_fire.isoformat())
    assert (explained["due"], explained["verdict"]) == (True, "did_not_run")
    assert codes(explained) == ["skipped_overlap"], explained
    details = explained["reasons"][0]["details"]
    assert details["overlapping_run_id"] == running[-1]["id"]
    assert details["num_actions_skipped_overlap"] >= 1
    await api.http.delete(f"{JOBS}/{job['id']}?cancel_running=true", headers=alice)
