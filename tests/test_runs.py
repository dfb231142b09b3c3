"""Runs end to end: real Temporal, real worker, agents on loopback (docs/api.md, "Runs")."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from api.core.settings import Settings
from domain.limits import MAX_OUTPUT_CHARS
from tests.helpers.api import JOBS, Api, create, trigger, wait_run
from tests.helpers.histories import HISTORIES
from tests.helpers.processes import doomed_worker
from tests.helpers.servers import Reply, ScriptedServer
from worker import WORKFLOWS, running_worker

AGENTS_TOML = """
[agents.web]
kind = "http"
url = "{url}/web"
headers = {{ "X-Token" = "t0k" }}

[agents.sleeper]
kind = "command"
command = ["{python}", "-c", "import time; time.sleep(120)"]

[agents.shell]
kind = "command"
command = ["{python}", "{shout}"]
"""

SHOUT = """
import json, sys
run = json.load(sys.stdin)
data = {"attempt": run["attempt"], "key": run["idempotency_key"], "dispatch": run["dispatch"]}
print(json.dumps({"output": run["goal"].upper(), "data": data}))
"""


@pytest.fixture
def settings(settings: Settings, agent_server: ScriptedServer, tmp_path: Path) -> Settings:
    shout = tmp_path / "shout.py"
    shout.write_text(SHOUT)
    path = tmp_path / "agents.toml"
    path.write_text(AGENTS_TOML.format(url=agent_server.url, python=sys.executable, shout=shout))
    settings.agents_file = path
    return settings


async def test_triggered_echo_run_completes_with_output_and_data(
    api: Api, worker: Worker, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, goal='{"price_change_pct": 0.07}')
    run_id = await trigger(api, alice, job["id"])

    run = await wait_run(api, alice, job["id"], run_id)
    assert run["status"] == "completed" and run["trigger"] == "manual"
    assert run["output"] == '{"price_change_pct": 0.07}'
    assert run["data"] == {"price_change_pct": 0.07}
    assert run["attempts"] == 1 and run["attempt_errors"] == [] and run["error"] is None
    assert run["attempt_dispatches"] == [{"attempt": 1, "dispatches": 1}]
    started = datetime.fromisoformat(run["started_at"])
    completed = datetime.fromisoformat(run["completed_at"])
    assert started <= completed
    assert run["duration_seconds"] == pytest.approx((completed - started).total_seconds())
    assert run["temporal"]["workflow_id"] == run_id and run["temporal"]["run_id"]
    assert run["temporal_ui_url"].endswith(f"/workflows/{run_id}")
    description = await temporal_client.get_workflow_handle(run_id).describe()
    assert description.run_id == run["temporal"]["run_id"]

    job_now = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()
    assert job_now["run_count"] == 1
    assert datetime.fromisoformat(job_now["last_run_at"]) == started


async def test_http_agent_503_twice_then_ok_completes_in_three_attempts(
    api: Api, worker: Worker, agent_server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    agent_server.script(
        "/web",
        Reply(503, {"error": "busy"}),
        Reply(503, {"error": "busy"}),
        Reply(200, {"output": "done", "data": {"n": 3}}),
    )
    alice = await api.headers("alice")
    job = await create(
        api,
        alice,
        agent_id="web",
        retry={"max_attempts": 3, "strategy": "fixed", "base_delay": 1},
    )
    run_id = await trigger(api, alice, job["id"])
    run = await wait_run(api, alice, job["id"], run_id)

    assert run["status"] == "completed" and run["attempts"] == 3
    assert run["output"] == "done" and run["data"] == {"n": 3}
    assert [e["attempt"] for e in run["attempt_errors"]] == [1, 2]
    assert all("503" in e["error"] for e in run["attempt_errors"])
    calls = agent_server.calls("/web")
    assert [c.body["attempt"] for c in calls] == [1, 2, 3]
    # Each attempt of the job's retry policy is a new call: a new key, dispatched once.
    keys = [f"{run_id}/attempt/{n}" for n in (1, 2, 3)]
    assert [c.body["idempotency_key"] for c in calls] == keys
    assert [c.headers["Idempotency-Key"] for c in calls] == keys
    assert run["attempt_dispatches"] == [{"attempt": n, "dispatches": 1} for n in (1, 2, 3)]
    # One line per failed attempt, no traceback (an agent's 503 is no bug).
    lines = [r for r in caplog.records if r.name == "activities.agents"]
    assert [(r.levelname, r.exc_info) for r in lines] == [("WARNING", None)] * 2
    assert [r.getMessage() for r in lines] == [
        f"agent call of run {run_id} failed on attempt {n} (dispatch 1): agent 'web' answered "
        'HTTP 503: {"error": "busy"}'
        for n in (1, 2)
    ]
    assert not [r for r in caplog.records if r.levelname == "WARNING" and r.exc_info]
    assert calls[0].body["run_id"] == run_id and calls[0].body["job_id"] == job["id"]
    assert calls[0].body["goal"] == job["goal"] and calls[0].headers["X-Token"] == "t0k"
    assert calls[1].at - calls[0].at >= 1.0 and calls[2].at - calls[1].at >= 1.0


async def test_http_agent_429_once_then_ok_completes_in_two_attempts(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script(
        "/web",
        Reply(429, {"error": "slow down"}),
        Reply(200, {"output": "done", "data": {"n": 2}}),
    )
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="web", retry={"max_attempts": 3, "strategy": "fixed", "base_delay": 1}
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))

    assert run["status"] == "completed" and run["attempts"] == 2 and run["error"] is None
    assert run["output"] == "done" and run["data"] == {"n": 2}
    (first,) = run["attempt_errors"]
    assert first["attempt"] == 1 and first["kind"] == "http_status"
    assert "HTTP 429" in first["error"]
    calls = agent_server.calls("/web")
    assert [c.body["attempt"] for c in calls] == [1, 2]
    assert calls[1].at - calls[0].at >= 1.0


async def test_http_agent_400_fails_after_one_attempt(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script("/web", Reply(400, {"error": "bad goal"}))
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="web", retry={"max_attempts": 3, "strategy": "fixed", "base_delay": 1}
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "failed" and run["attempts"] == 1
    assert "400" in run["error"]
    assert len(agent_server.calls("/web")) == 1
    job_now = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()
    assert job_now["consecutive_failures"] == 1 and job_now["run_count"] == 1


async def test_an_output_too_long_for_a_run_is_cut_and_says_so(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    output = "".join(f"line {n:06d}\n" for n in range(250_000))  # 3,000,000 characters
    agent_server.script("/web", Reply(200, {"output": output, "data": {"lines": 250_000}}))
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="web")
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "completed" and run["attempts"] == 1
    assert run["data"] == {"lines": 250_000}
    assert len(run["output"]) == MAX_OUTPUT_CHARS
    assert run["output"].startswith(output[:900_000])
    assert run["output"].endswith(
        "the agent answered 3,000,000 characters; this keeps the first 1,000,000)"
    )
    assert run["truncated"] is True
    assert run["answer_notes"] == ["output: cut at 1,000,000 of 3,000,000 characters"]


async def test_data_too_large_for_a_run_is_dropped_and_a_condition_on_it_not_evaluated(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script("/web", Reply(200, {"output": "ok", "data": {"blob": "x" * 300_000}}))
    webhook = agent_server.script("/hook", Reply(200, {}))
    alice = await api.headers("alice")
    job = await create(
        api,
        alice,
        agent_id="web",
        retry={"max_attempts": 3, "strategy": "fixed", "base_delay": 1},
        condition={"expression": "'blob' not in data"},
        delivery={"channel": f"webhook:{webhook}"},
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "completed" and run["attempts"] == 1
    assert run["output"] == "ok" and run["data"] == {} and run["truncated"] is True
    assert run["answer_notes"] == ["data: dropped, 300,012 bytes as JSON (at most 262,144)"]
    # Decided on an empty object, this condition would have been true: it is not evaluated.
    assert run["condition_result"]["value"] is False
    assert "data was dropped" in run["condition_result"]["error"]
    assert run["delivery"]["status"] == "skipped" and not agent_server.calls("/hook")
    assert len(agent_server.calls("/web")) == 1


async def test_command_agent_gets_the_run_on_stdin(api: Api, worker: Worker) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="shell", goal="shout")
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "completed"
    key = f"{run['id']}/attempt/1"
    assert run["output"] == "SHOUT" and run["data"] == {"attempt": 1, "key": key, "dispatch": 1}


async def test_consecutive_failures_pause_the_job(
    api: Api, worker: Worker, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    agent_server.script("/web", Reply(500, {"error": "down"}))
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="web", max_consecutive_failures=2)
    for _ in range(2):
        await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))

    job_now = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()
    assert job_now["status"] == "paused" and job_now["consecutive_failures"] == 2
    assert "2 consecutive failed runs" in job_now["paused_reason"]
    assert (await temporal_client.get_schedule_handle(job["id"]).describe()).schedule.state.paused

    agent_server.script("/web", Reply(200, {"output": "back"}))
    resumed = (await api.http.post(f"{JOBS}/{job['id']}/resume", headers=alice)).json()
    assert resumed["status"] == "active" and resumed["consecutive_failures"] == 0


@pytest.mark.parametrize("agent_id", ["web", "sleeper"])
async def test_cancel_stops_the_agent_call(
    api: Api, worker: Worker, agent_server: ScriptedServer, agent_id: str
) -> None:
    agent_server.script("/web", Reply(200, {"output": "late"}, delay=-1))
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id=agent_id)
    run_id = await trigger(api, alice, job["id"])
    await asyncio.sleep(1.0)  # the agent call is in flight

    started = time.monotonic()
    response = await api.http.post(f"{JOBS}/{job['id']}/runs/{run_id}/cancel", headers=alice)
    assert response.status_code == 202
    run = await wait_run(api, alice, job["id"], run_id, timeout=5)
    assert run["status"] == "cancelled"
    assert time.monotonic() - started < 5

    again = await api.http.post(f"{JOBS}/{job['id']}/runs/{run_id}/cancel", headers=alice)
    assert again.status_code == 409 and again.json()["error"] == "conflict"


async def test_delete_with_cancel_running_cancels_in_flight_runs(
    api: Api, worker: Worker, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="sleeper")
    run_id = await trigger(api, alice, job["id"])
    await asyncio.sleep(1.0)

    response = await api.http.delete(f"{JOBS}/{job['id']}?cancel_running=true", headers=alice)
    assert response.status_code == 204
    handle = temporal_client.get_workflow_handle(run_id)
    deadline = time.monotonic() + 10
    while (await handle.describe()).status != WorkflowExecutionStatus.CANCELED:
        assert time.monotonic() < deadline, "run not cancelled within 10 s"
        await asyncio.sleep(0.2)


async def test_run_history_filters_paginates_and_hides_other_owners(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script(
        "/web", Reply(200, {"output": "a"}), Reply(400, {}), Reply(200, {"output": "c"})
    )
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="web")
    run_ids = []
    for _ in range(3):
        run_id = await trigger(api, alice, job["id"])
        await wait_run(api, alice, job["id"], run_id)
        run_ids.append(run_id)

    page = (await api.http.get(f"{JOBS}/{job['id']}/runs?limit=2", headers=alice)).json()
    assert page["count"] == 3 and [r["id"] for r in page["runs"]] == run_ids[::-1][:2]
    failed = (await api.http.get(f"{JOBS}/{job['id']}/runs?status=failed", headers=alice)).json()
    assert failed["count"] == 1 and failed["runs"][0]["id"] == run_ids[1]

    mallory = await api.headers("mallory")
    for path in (f"{JOBS}/{job['id']}/runs", f"{JOBS}/{job['id']}/runs/{run_ids[0]}"):
        assert (await api.http.get(path, headers=mallory)).status_code == 404
    cancel = await api.http.post(f"{JOBS}/{job['id']}/runs/{run_ids[0]}/cancel", headers=mallory)
    assert cancel.status_code == 404
    missing = await api.http.get(f"{JOBS}/{job['id']}/runs/run_nope", headers=alice)
    assert missing.status_code == 404


async def first_completed_run(
    api: Api, headers: dict[str, str], job_id: str, *, timeout: float = 15
) -> dict[str, Any]:
    """The newest completed run of a job that runs on its own (a schedule), once there is one."""
    deadline = time.monotonic() + timeout
    while True:
        runs: list[dict[str, Any]] = (
            await api.http.get(f"{JOBS}/{job_id}/runs?status=completed", headers=headers)
        ).json()["runs"]
        if runs:
            return runs[0]
        assert time.monotonic() < deadline, f"the schedule never fired within {timeout}s"
        await asyncio.sleep(0.2)


async def test_every_job_fires_on_its_own(api: Api, worker: Worker) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, schedule={"type": "every", "interval": 2})
    run = await first_completed_run(api, alice, job["id"])
    assert run["trigger"] == "schedule" and run["output"] == job["goal"]
    scheduled = datetime.fromisoformat(run["scheduled_at"])
    assert scheduled.timestamp() % 2 == 0
    assert run["id"] == f"run_{job['id'].removeprefix('job_')}-{scheduled:%Y-%m-%dT%H:%M:%SZ}"
    started = datetime.fromisoformat(run["started_at"])
    completed = datetime.fromisoformat(run["completed_at"])
    assert scheduled <= started <= completed
    assert run["duration_seconds"] == pytest.approx(
        (completed - started).total_seconds(), abs=0.001
    )
    # The next fire moves on after each one (the stored value is only used while ahead).
    before = datetime.now(UTC)
    next_run = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()["next_run_at"]
    after = datetime.now(UTC)
    assert before < datetime.fromisoformat(next_run) <= after + timedelta(seconds=2)


async def wait_job_settled(
    api: Api, headers: dict[str, str], job_id: str, *, timeout: float = 20
) -> dict[str, Any]:
    """The job once it is no longer active (a one-off that ran), or as it is at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        current: dict[str, Any] = (await api.http.get(f"{JOBS}/{job_id}", headers=headers)).json()
        if current["status"] != "active" or time.monotonic() > deadline:
            return current
        await asyncio.sleep(0.2)


async def test_at_job_runs_once_and_completes(api: Api, worker: Worker) -> None:
    alice = await api.headers("alice")
    when = (datetime.now().astimezone() + timedelta(seconds=3)).replace(microsecond=0)
    job = await create(api, alice, schedule={"type": "at", "datetime": when.isoformat()})
    current = await wait_job_settled(api, alice, job["id"])
    assert current["status"] == "completed" and current["run_count"] == 1
    assert current["next_run_at"] is None
    pause = await api.http.post(f"{JOBS}/{job['id']}/pause", headers=alice)
    assert pause.status_code == 409


async def test_at_job_whose_run_fails_ends_failed(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script("/web", Reply(400, {"error": "bad goal"}))
    alice = await api.headers("alice")
    when = (datetime.now().astimezone() + timedelta(seconds=3)).replace(microsecond=0)
    job = await create(
        api, alice, agent_id="web", schedule={"type": "at", "datetime": when.isoformat()}
    )
    current = await wait_job_settled(api, alice, job["id"])
    assert current["status"] == "failed" and current["run_count"] == 1
    assert current["consecutive_failures"] == 1 and current["next_run_at"] is None
    runs = (await api.http.get(f"{JOBS}/{job['id']}/runs", headers=alice)).json()
    assert [(r["status"], r["trigger"]) for r in runs["runs"]] == [("failed", "schedule")]
    resume = await api.http.post(f"{JOBS}/{job['id']}/resume", headers=alice)
    assert resume.status_code == 409


async def test_overlap_skip_does_not_double_a_slow_run(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script("/web", Reply(200, {"output": "slow"}, delay=3.5))
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="web", schedule={"type": "every", "interval": 1})
    await asyncio.sleep(6)
    await api.http.post(f"{JOBS}/{job['id']}/pause", headers=alice)

    calls = agent_server.calls("/web")
    assert 1 <= len(calls) <= 3
    runs = (await api.http.get(f"{JOBS}/{job['id']}/runs", headers=alice)).json()["runs"]
    intervals = sorted(
        (datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["completed_at"]))
        for r in runs
        if r["completed_at"]
    )
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert start >= end, "two runs of a skip-overlap job ran at once"


async def test_workflow_replays_recorded_and_fresh_histories(
    api: Api, worker: Worker, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    """A change to the run workflow that would break running histories fails here."""
    agent_server.script(
        "/web",
        Reply(503, {}),
        Reply(200, {"output": "ok", "data": {"x": 1}}),
        Reply(200, {"output": "late"}, delay=-1),
    )
    alice = await api.headers("alice")
    retried = await create(
        api, alice, agent_id="web", retry={"max_attempts": 2, "strategy": "fixed", "base_delay": 1}
    )
    cancelled = await create(api, alice, agent_id="sleeper")
    echoed = await create(api, alice)
    gated = await create(
        api,
        alice,
        condition={"type": "expression", "expression": "now.hour < 0", "stage": "before_run"},
    )
    scheduled = await create(api, alice, schedule={"type": "every", "interval": 2})
    run_ids = {
        "retried": await trigger(api, alice, retried["id"]),
        "cancelled": await trigger(api, alice, cancelled["id"]),
        "echo": await trigger(api, alice, echoed["id"]),
        "skipped": await trigger(api, alice, gated["id"]),
    }
    await asyncio.sleep(1.0)
    await api.http.post(
        f"{JOBS}/{cancelled['id']}/runs/{run_ids['cancelled']}/cancel", headers=alice
    )
    jobs = {"retried": retried, "cancelled": cancelled, "echo": echoed, "skipped": gated}
    ended = {
        name: (await wait_run(api, alice, job["id"], run_ids[name]))["status"]
        for name, job in jobs.items()
    }
    assert ended == {
        "retried": "completed",
        "cancelled": "cancelled",
        "echo": "completed",
        "skipped": "skipped",
    }
    fired = await first_completed_run(api, alice, scheduled["id"])
    await api.http.post(f"{JOBS}/{scheduled['id']}/pause", headers=alice)
    assert fired["trigger"] == "schedule"
    run_ids["scheduled"] = fired["id"]

    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    fresh = {
        name: await temporal_client.get_workflow_handle(run_id).fetch_history()
        for name, run_id in run_ids.items()
    }
    if os.environ.get("AGENT_SCHEDULER_RECORD_HISTORIES"):
        HISTORIES.mkdir(exist_ok=True)
        for name, history in fresh.items():
            (HISTORIES / f"job_run_{name}.json").write_text(history.to_json())
    recorded = [
        WorkflowHistory.from_json(path.stem, path.read_text())
        for path in sorted(HISTORIES.glob("*.json"))
    ]
    assert recorded, "no recorded histories under tests/histories"
    for history in [*fresh.values(), *recorded]:
        await replayer.replay_workflow(history)


async def test_killed_worker_loses_nothing_and_doubles_nothing(
    api: Api, settings: Settings, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    agent_server.script(
        "/web",
        Reply(200, {"output": "never"}, delay=-1),
        Reply(200, {"output": "second worker", "data": {"ok": True}}),
    )
    async with doomed_worker(settings):
        alice = await api.headers("alice")
        job = await create(api, alice, agent_id="web")
        run_id = await trigger(api, alice, job["id"])
        await agent_server.wait_for_call("/web")

    async with running_worker(temporal_client, settings):
        run = await wait_run(api, alice, job["id"], run_id, timeout=60)

    assert run["status"] == "completed" and run["output"] == "second worker"
    assert run["attempts"] == 1 and run["attempt_errors"] == []
    calls = agent_server.calls("/web")
    assert [c.body["run_id"] for c in calls] == [run_id, run_id]
    # The agent was called twice for attempt 1: with the same key, so it can tell, and the run
    # shows it.
    key = f"{run_id}/attempt/1"
    assert [c.body["idempotency_key"] for c in calls] == [key, key]
    assert [c.headers["Idempotency-Key"] for c in calls] == [key, key]
    assert [c.body["dispatch"] for c in calls] == [1, 2]
    assert run["attempt_dispatches"] == [{"attempt": 1, "dispatches": 2}]
    runs = (await api.http.get(f"{JOBS}/{job['id']}/runs", headers=alice)).json()
    assert runs["count"] == 1
    job_now = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()
    assert job_now["run_count"] == 1


async def test_agents_lists_ids_and_kinds_never_settings(api: Api) -> None:
    alice = await api.headers("alice")
    response = await api.http.get("/api/scheduler/agents", headers=alice)
    assert response.status_code == 200
    assert response.json() == {
        "agents": [
            {"id": "echo", "kind": "echo"},
            {"id": "shell", "kind": "command"},
            {"id": "sleeper", "kind": "command"},
            {"id": "web", "kind": "http"},
        ]
    }
    assert "t0k" not in response.text
    assert (await api.http.get("/api/scheduler/agents")).status_code == 401
