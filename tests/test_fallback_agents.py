"""Fallback agents (docs/api.md, "Fallback agents"): a transient provider error moves the next
attempt to the job's next agent; real Temporal, real worker, http agents on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, Worker

from api.core.settings import Settings
from domain.retry import is_transient
from tests.helpers.api import JOBS, Api, create, job_body, trigger, wait_run
from tests.helpers.histories import HISTORIES
from tests.helpers.servers import Reply, ScriptedServer, serve
from worker import WORKFLOWS

AGENTS_TOML = """
[agents.first]
kind = "http"
url = "{url}/first"

[agents.second]
kind = "http"
url = "{url}/second"

[agents.third]
kind = "http"
url = "{url}/third"
"""
YEARLY = {"type": "cron", "expression": "0 8 1 1 *", "timezone": "UTC"}
RETRY = {"max_attempts": 3, "strategy": "fixed", "base_delay": 1}


@pytest.fixture
def agents() -> Iterator[ScriptedServer]:
    yield from serve()


@pytest.fixture
def settings(settings: Settings, agents: ScriptedServer, tmp_path: Path) -> Settings:
    path = tmp_path / "agents.toml"
    path.write_text(AGENTS_TOML.format(url=agents.url))
    settings.agents_file = path
    return settings


def test_only_retryable_provider_errors_fall_back() -> None:
    assert is_transient("http_status", True)  # 429, 5xx
    assert is_transient("timeout", True) and is_transient("connection", True)
    assert not is_transient("http_status", False)  # another 4xx
    assert not is_transient("exit_code", True)  # a command agent's own failure
    assert not is_transient("bad_answer", False) and not is_transient("config", False)


class TestFallbackAgentIds:
    """``fallback_agent_ids`` on create, update and read."""

    async def test_stored_shown_and_changed(self, api: Api) -> None:
        alice = await api.headers("alice")
        job = await create(api, alice, agent_id="first", fallback_agent_ids=["second", "third"])
        assert job["fallback_agent_ids"] == ["second", "third"]
        plain = await create(api, alice)
        assert plain["fallback_agent_ids"] == []
        url = f"{JOBS}/{job['id']}"
        # A new agent_id is checked against the kept fallbacks.
        clash = await api.http.put(url, json={"agent_id": "second"}, headers=alice)
        assert clash.status_code == 422, clash.text
        assert clash.json()["details"][0]["field"] == "fallback_agent_ids.0"
        moved = await api.http.put(
            url, json={"agent_id": "second", "fallback_agent_ids": ["first"]}, headers=alice
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["agent_id"] == "second"
        assert moved.json()["fallback_agent_ids"] == ["first"]
        nothing: tuple[list[str] | None, ...] = (None, [])
        for none in nothing:
            cleared = await api.http.put(url, json={"fallback_agent_ids": none}, headers=alice)
            assert cleared.status_code == 200 and cleared.json()["fallback_agent_ids"] == []
        got = await api.http.get(url, headers=alice)
        assert got.json()["fallback_agent_ids"] == []

    async def test_bad_lists_are_422s_naming_the_entry(self, api: Api) -> None:
        alice = await api.headers("alice")
        cases: list[tuple[Any, str, str]] = [
            (["nope"], "fallback_agent_ids.0", "unknown agent 'nope'"),
            (["second", "first"], "fallback_agent_ids.1", "is the job's agent_id"),
            (["second", "third", "second"], "fallback_agent_ids.2", "listed twice"),
            ("second", "fallback_agent_ids", "valid list"),
            ([""], "fallback_agent_ids.0", "at least 1"),
            (["echo"] * 6, "fallback_agent_ids", "at most 5"),
        ]
        for value, field, message in cases:
            body = job_body(agent_id="first", fallback_agent_ids=value)
            response = await api.http.post(JOBS, json=body, headers=alice)
            assert response.status_code == 422, (value, response.text)
            error = response.json()
            assert error["error"] == "validation_error", error
            [detail] = error["details"]
            assert detail["field"] == field and message in detail["message"], (value, error)
        job = await create(api, alice, agent_id="first")
        response = await api.http.put(
            f"{JOBS}/{job['id']}", json={"fallback_agent_ids": ["first"]}, headers=alice
        )
        assert response.status_code == 422, response.text
        assert response.json()["details"][0]["field"] == "fallback_agent_ids.0"


async def test_a_503_moves_the_next_attempt_to_the_fallback_agent(
    api: Api, worker: Worker, agents: ScriptedServer, temporal_client: Client
) -> None:
    agents.script("/first", Reply(503, {"error": "overloaded"}))
    agents.script("/second", Reply(200, {"output": "from second", "usage": {"input_tokens": 4}}))
    alice = await api.headers("alice")
    job = await create(
        api,
        alice,
        agent_id="first",
        fallback_agent_ids=["second", "third"],
        retry=RETRY,
        schedule=YEARLY,
    )
    run_id = await trigger(api, alice, job["id"])
    run = await wait_run(api, alice, job["id"], run_id)

    assert run["status"] == "completed" and run["output"] == "from second"
    assert run["agent_id"] == "second" and run["attempts"] == 2
    [error] = run["attempt_errors"]
    assert error["agent_id"] == "first" and error["kind"] == "http_status"
    assert "HTTP 503" in error["error"]
    # The usage is the answering agent's.
    assert run["usage"]["input_tokens"] == 4
    [first], [second] = agents.calls("/first"), agents.calls("/second")
    assert first.body["agent_id"] == "first" and second.body["agent_id"] == "second"
    assert second.body["attempt"] == 2 and second.at - first.at >= 1.0  # the retry delay
    assert not agents.calls("/third")

    history = await temporal_client.get_workflow_handle(run_id).fetch_history()
    if os.environ.get("AGENT_SCHEDULER_RECORD_HISTORIES"):
        (HISTORIES / "job_run_fallback.json").write_text(history.to_json())
    recorded = HISTORIES / "job_run_fallback.json"
    assert recorded.exists(), "no recorded history of a run that fell back"
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    for past in (history, WorkflowHistory.from_json(recorded.stem, recorded.read_text())):
        await replayer.replay_workflow(past)


async def test_a_400_ends_the_run_without_falling_back(
    api: Api, worker: Worker, agents: ScriptedServer
) -> None:
    agents.script("/first", Reply(400, {"error": "bad goal"}))
    agents.script("/second", Reply(200, {"output": "never"}))
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="first", fallback_agent_ids=["second"], retry=RETRY, schedule=YEARLY
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "failed" and run["attempts"] == 1
    assert run["agent_id"] == "first" and run["attempt_errors"][0]["agent_id"] == "first"
    assert "HTTP 400" in run["error"]
    assert not agents.calls("/second")


async def test_the_agents_take_turns_until_the_attempts_are_spent(
    api: Api, worker: Worker, agents: ScriptedServer
) -> None:
    agents.script("/first", Reply(503, {}), Reply(502, {}))
    agents.script("/second", Reply(429, {}))
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="first", fallback_agent_ids=["second"], retry=RETRY, schedule=YEARLY
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "failed" and run["attempts"] == 3
    assert [e["agent_id"] for e in run["attempt_errors"]] == ["first", "second", "first"]
    assert run["agent_id"] == "first" and "HTTP 502" in run["error"]
