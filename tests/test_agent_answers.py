"""Agent answers that no index can store as they are, too large, too deep, or a run stuck in
Temporal: each run ends in a recorded state that says why, and the job's next run runs
(docs/api.md, "Run object"). On SQLite and PostgreSQL, like every index test."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.runs import RunRecorder
from activities.tick import TickActivities
from api.core.index.db import make_engine
from api.core.settings import Settings
from domain.contract.tick import ReconcileInput
from domain.limits import MAX_DATA_DEPTH, MAX_OUTPUT_CHARS
from domain.retry import RetryPolicy, longest_run_seconds
from tests.helpers.api import JOBS, Api, create, eventually, trigger, wait_run
from tests.helpers.servers import Reply, ScriptedServer

AGENTS_TOML = """
[agents.web]
kind = "http"
url = "{url}/web"
"""


@pytest.fixture
def settings(settings: Settings, agent_server: ScriptedServer, tmp_path: Path) -> Settings:
    path = tmp_path / "agents.toml"
    path.write_text(AGENTS_TOML.format(url=agent_server.url))
    settings.agents_file = path
    return settings


async def answered(
    api: Api, agent_server: ScriptedServer, client: Client, body: bytes, **job: Any
) -> dict[str, Any]:
    """The run of a job whose agent answers ``body``, once its workflow has closed; then the
    next run of the job, answered plainly, completes too."""
    agent_server.script("/web", Reply(200, body), Reply(200, {"output": "next"}))
    alice = await api.headers("alice")
    created = await create(api, alice, agent_id="web", overlap="skip", **job)
    run = await wait_run(api, alice, created["id"], await trigger(api, alice, created["id"]))
    # Its workflow closes right after the end is recorded: nothing holds it (or the overlap).
    handle = client.get_workflow_handle(run["id"])
    await asyncio.wait_for(handle.result(), timeout=30)
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    following = await wait_run(api, alice, created["id"], await trigger(api, alice, created["id"]))
    assert following["status"] == "completed" and following["output"] == "next"
    return run


async def test_nul_characters_are_replaced_and_said_on_the_run(
    api: Api, worker: Worker, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    hook = agent_server.script("/hook", Reply(200, {}))
    body = json.dumps({"output": "before\u0000after", "data": {"k\u0000": "v\u0000"}})
    assert "\\u0000" in body  # as the agent sends it: JSON escapes
    run = await answered(
        api,
        agent_server,
        temporal_client,
        body.encode(),
        delivery={"channel": f"webhook:{hook}", "format": "json"},
    )
    assert run["status"] == "completed" and run["error"] is None
    assert run["output"] == "before\ufffdafter" and run["data"] == {"k\ufffd": "v\ufffd"}
    assert run["truncated"] is False
    assert run["answer_notes"] == [
        "output: 1 NUL or lone surrogate characters replaced by U+FFFD",
        "data: 2 NUL or lone surrogate characters replaced by U+FFFD, or NaN and infinite "
        "numbers by null",
    ]
    delivered = agent_server.calls("/hook")[0]  # the next run's delivery follows
    assert delivered.body["run"]["output"] == "before\ufffdafter"
    assert run["delivery"]["status"] == "delivered"


async def test_lone_surrogates_and_nan_are_replaced(
    api: Api, worker: Worker, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    body = (
        b'{"output": "a\\ud800b\\udfff", '
        b'"data": {"x": "\\udc00", "n": NaN, "ok": "\\ud83d\\ude00"}}'
    )
    run = await answered(api, agent_server, temporal_client, body)
    assert run["status"] == "completed"
    assert run["output"] == "a\ufffdb\ufffd"
    # A valid pair is one character, kept; NaN, which JSON does not have, is null.
    assert run["data"] == {"x": "\ufffd", "n": None, "ok": "\U0001f600"}
    assert len(run["answer_notes"]) == 2


async def test_a_50_mb_output_is_cut_with_truncated(
    api: Api, worker: Worker, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    size = 50 * 1024 * 1024
    body = b'{"output": "' + b"y" * size + b'", "data": {"kept": true}}'
    run = await answered(api, agent_server, temporal_client, body)
    assert run["status"] == "completed" and run["truncated"] is True
    assert len(run["output"]) == MAX_OUTPUT_CHARS and run["output"].startswith("y" * 900_000)
    assert run["data"] == {"kept": True}
    assert run["answer_notes"] == [f"output: cut at 1,000,000 of {size:,} characters"]


async def test_json_nested_100000_deep_fails_the_run_with_the_reason(
    api: Api, worker: Worker, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    run = await answered(
        api,
        agent_server,
        temporal_client,
        b'{"output": "deep", "data": {"x": ' + deep + b"}}",
        retry={"max_attempts": 3, "strategy": "fixed", "base_delay": 1},
    )
    # The agent's own answer is wrong: not retried, recorded with why.
    assert run["status"] == "failed" and run["attempts"] == 1
    assert run["attempt_errors"][0]["kind"] == "bad_answer"
    assert "nested too deeply to read" in run["error"]


async def test_data_deeper_than_the_limit_is_dropped(
    api: Api, worker: Worker, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    nested: Any = "bottom"
    for _ in range(MAX_DATA_DEPTH + 10):
        nested = {"in": nested}
    body = json.dumps({"output": "deep", "data": nested}).encode()
    run = await answered(api, agent_server, temporal_client, body)
    assert run["status"] == "completed" and run["output"] == "deep"
    assert run["data"] == {} and run["truncated"] is True
    assert run["answer_notes"] == [
        f"data: dropped, nested {MAX_DATA_DEPTH + 10} levels deep (at most {MAX_DATA_DEPTH})"
    ]


async def test_an_error_quoting_a_nul_is_recorded(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script("/web", Reply(400, b"refused\x00here"))
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="web")
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "failed"
    assert "refused\ufffdhere" in run["error"]
    assert "refused\ufffdhere" in run["attempt_errors"][0]["error"]
    # The failing incident quotes the error, cleaned the same way (on PostgreSQL a NUL in it
    # would have failed the run's end, and kept the run running, forever).
    listed = await api.http.get("/api/scheduler/incidents", headers=alice)
    (incident,) = listed.json()["incidents"]
    assert incident["kind"] == "failing" and "refused\ufffdhere" in incident["reason"]


async def test_the_tick_ends_a_run_still_running_past_its_longest(
    api: Api, worker: Worker, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    """A run that Temporal still shows running long after its timeout and retries would have
    ended it (a hung agent here stands in for a wedged workflow) is terminated and recorded
    ``timed_out`` by the tick, so the job's next fires are not skipped behind it."""
    agent_server.script("/web", Reply(200, {"output": "late"}, delay=-1))
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="web", timeout_seconds=50, overlap="skip")
    run_id = await trigger(api, alice, job["id"])
    await agent_server.wait_for_call("/web")
    longest = longest_run_seconds(RetryPolicy(), 50)
    settings = api.state.settings
    engine = make_engine(settings.resolved_database_url)
    env = ActivityEnvironment()

    def tick_at(offset: float) -> TickActivities:
        moment = datetime.now(UTC) + timedelta(seconds=offset)
        recorder = RunRecorder(engine, temporal_client)
        return TickActivities(
            engine, temporal_client, settings, recorder=recorder, clock=lambda: moment
        )

    tick = ReconcileInput(workflow_id="t", grace_seconds=0)
    try:
        early = await env.run(tick_at(longest - 600).reconcile, tick)
        assert "stuck_runs_ended" not in early.repairs
        late = await env.run(tick_at(longest + 60).reconcile, tick)
    finally:
        agent_server.release.set()
        await engine.dispose()
    assert late.repairs.get("stuck_runs_ended") == 1
    described = await temporal_client.get_workflow_handle(run_id).describe()
    assert described.status == WorkflowExecutionStatus.TERMINATED
    run = (await api.http.get(f"{JOBS}/{job['id']}/runs/{run_id}", headers=alice)).json()
    assert run["status"] == "timed_out"
    assert "longer than its job's timeout and retries allow" in run["error"]

    async def job_counts() -> bool:
        now = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()
        return bool(now["consecutive_failures"] == 1 and now["run_count"] == 1)

    await eventually(job_counts, "the stuck run counted on its job")
