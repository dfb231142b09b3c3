"""Budgets (docs/agents.md): usage reported by agents, runs past a budget
skipped, the job paused and reopened by the tick when its window (a local day or month in the job's
zone) rolls over."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer, Worker

from activities.runs import RunRecorder
from activities.tick import TickActivities
from api.core.index.db import make_engine
from api.core.settings import Settings
from domain.budgets import Budget
from domain.contract.runs import BudgetCheck
from domain.contract.tick import ReconcileInput
from domain.localtime import local_midnight
from tests.helpers.api import JOBS, Api, create, trigger, wait_run
from tests.helpers.histories import HISTORIES
from tests.helpers.servers import Reply, ScriptedServer, serve
from worker import WORKFLOWS

COMPLETIONS = "/v1/chat/completions"
ZONE = "America/New_York"
YEARLY = {"type": "cron", "expression": "0 8 1 1 *", "timezone": ZONE}

AGENTS_TOML = """
[agents.llm]
kind = "openai"
base_url = "{url}/v1"
model = "tiny-1"

[agents.priced]
kind = "openai"
base_url = "{url}/v1"
model = "tiny-1"
input_usd_per_million_tokens = 2.0
output_usd_per_million_tokens = 10.0

[agents.web]
kind = "http"
url = "{url}/web"

[agents.counter]
kind = "command"
command = ["{python}", "-c", "{counter}"]
"""

COUNTER = (
    "import json; print(json.dumps({'output': 'counted', "
    "'usage': {'input_tokens': 7, 'output_tokens': 3}}))"
)


def completion(text: str, prompt_tokens: int, completion_tokens: int) -> Reply:
    """A chat completion answering ``text`` with its token usage."""
    return Reply(
        200,
        {
            "choices": [{"message": {"role": "assistant", "content": text}}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
    )


@pytest.fixture
def llm() -> Iterator[ScriptedServer]:
    yield from serve()


@pytest.fixture
def settings(settings: Settings, llm: ScriptedServer, tmp_path: Path) -> Settings:
    path = tmp_path / "agents.toml"
    path.write_text(AGENTS_TOML.format(url=llm.url, python=sys.executable, counter=COUNTER))
    settings.agents_file = path
    return settings


async def job_of(api: Api, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    response = await api.http.get(f"{JOBS}/{job_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def stats_of(api: Api, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    response = await api.http.get(f"{JOBS}/{job_id}/stats", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def next_local_midnight(zone: str) -> datetime:
    """The start of tomorrow in ``zone``, as the job object shows it (in the zone)."""
    tz = ZoneInfo(zone)
    today = datetime.now(UTC).astimezone(tz).date()
    return local_midnight(today + timedelta(days=1), tz).astimezone(tz)


def tick_at(settings: Settings, temporal_client: Client, engine: Any, now: datetime) -> Any:
    """A reconciler whose clock says ``now``."""
    return TickActivities(
        engine,
        temporal_client,
        settings,
        recorder=RunRecorder(engine, temporal_client),
        clock=lambda: now,
    )


async def test_budget_is_validated_stored_and_shown(api: Api) -> None:
    alice = await api.headers("alice")
    budget = {"max_tokens_per_day": 1000, "max_runs_per_day": 3, "max_cost_usd_per_month": 2.5}
    job = await create(api, alice, budget=budget)
    assert job["budget"] == budget and job["budget_reopens_at"] is None

    bad = [
        ({"max_runs": 3}, "budget.max_runs", "unknown field"),
        ({"max_runs_per_day": 0}, "budget.max_runs_per_day", "greater than or equal to 1"),
        ({"max_tokens_per_day": -5}, "budget.max_tokens_per_day", "greater than or equal to 1"),
        ({"max_cost_usd_per_month": 0}, "budget.max_cost_usd_per_month", "greater than 0"),
        ({"max_runs_per_day": True}, "budget.max_runs_per_day", "must be a number"),
        ({"max_runs_per_day": "3"}, "budget.max_runs_per_day", "must be a number"),
        ({"max_runs_per_day": 2.5}, "budget.max_runs_per_day", "integer"),
        ("lots", "budget", "valid dictionary"),
    ]
    for value, field, message in bad:
        for response in (
            await api.http.post(
                JOBS,
                json={
                    "name": "x",
                    "goal": "y",
                    "agent_id": "echo",
                    "schedule": YEARLY,
                    "budget": value,
                },
                headers=alice,
            ),
            await api.http.put(f"{JOBS}/{job['id']}", json={"budget": value}, headers=alice),
        ):
            assert response.status_code == 422, (value, response.text)
            [detail] = response.json()["details"]
            assert detail["field"] == field and message in detail["message"], (value, detail)

    # PUT changes it, a limit set to null is no limit, and null removes the budget.
    response = await api.http.put(
        f"{JOBS}/{job['id']}",
        json={"budget": {"max_runs_per_day": 10, "max_tokens_per_day": None}},
        headers=alice,
    )
    assert response.status_code == 200, response.text
    assert response.json()["budget"] == {
        "max_tokens_per_day": None,
        "max_runs_per_day": 10,
        "max_cost_usd_per_month": None,
    }
    response = await api.http.put(f"{JOBS}/{job['id']}", json={"budget": None}, headers=alice)
    assert response.status_code == 200 and response.json()["budget"] is None
    assert (await job_of(api, alice, job["id"]))["budget"] is None
    # An empty budget limits nothing: it is no budget.
    assert (await create(api, alice, budget={}))["budget"] is None


async def test_openai_tokens_are_recorded_and_the_token_budget_pauses_the_job(
    api: Api, worker: Worker, llm: ScriptedServer, temporal_client: Client
) -> None:
    llm.script(COMPLETIONS, completion("BTC is flat", 60, 40))
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="llm", schedule=YEARLY, budget={"max_tokens_per_day": 150}
    )
    first = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert first["status"] == "completed" and first["output"] == "BTC is flat"
    assert first["usage"] == {
        "input_tokens": 60,
        "output_tokens": 40,
        "total_tokens": 100,
        "cost_usd": None,
    }
    assert first["skip_reason"] is None
    # 100 of 150 used: the next run may start (and goes over).
    second = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert second["status"] == "completed" and second["usage"]["total_tokens"] == 100
    assert len(llm.calls(COMPLETIONS)) == 2

    third = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    today = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date().isoformat()
    reason = f"budget: max_tokens_per_day 150 reached for {today} ({ZONE}) (200 used)"
    assert third["status"] == "skipped" and third["skip_reason"] == reason
    assert third["attempts"] == 0 and third["output"] is None and third["usage"] is None
    assert len(llm.calls(COMPLETIONS)) == 2, "a run past its budget called the agent"

    paused = await job_of(api, alice, job["id"])
    assert paused["status"] == "paused" and paused["paused_reason"] == reason
    assert paused["next_run_at"] is None
    assert datetime.fromisoformat(paused["budget_reopens_at"]) == next_local_midnight(ZONE)
    assert paused["budget_reopens_at"].endswith(("-05:00", "-04:00"))  # the job's zone
    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert description.schedule.state.paused and description.schedule.state.note == reason

    stats = await stats_of(api, alice, job["id"])
    assert stats["usage"] == {
        "runs": 2,
        "input_tokens": 120,
        "output_tokens": 80,
        "total_tokens": 200,
        "cost_usd": 0.0,
    }
    assert stats["budget"] == {
        "timezone": ZONE,
        "day": today,
        "month": today[:7],
        "runs_today": 2,
        "tokens_today": 200,
        "cost_usd_this_month": 0.0,
        "max_runs_per_day": None,
        "max_tokens_per_day": 150,
        "max_cost_usd_per_month": None,
    }
    assert stats["runs_by_status"] == {"completed": 2, "skipped": 1}


async def test_runs_per_day_skip_a_scheduled_fire_and_the_next_local_day_reopens_the_job(
    api: Api, worker: Worker, temporal_client: Client, settings: Settings
) -> None:
    alice = await api.headers("alice")
    job = await create(
        api,
        alice,
        schedule={"type": "every", "interval": 1, "timezone": ZONE},
        budget={"max_runs_per_day": 2},
    )

    async def runs() -> list[dict[str, Any]]:
        body = (await api.http.get(f"{JOBS}/{job['id']}/runs?limit=200", headers=alice)).json()
        return list(body["runs"])

    # Two fires run; the third is skipped and pauses the job, and with it the schedule.
    deadline = time.monotonic() + 30
    while not [r for r in await runs() if r["status"] == "skipped"]:
        assert time.monotonic() < deadline, await runs()
        await asyncio.sleep(0.2)
    paused = await job_of(api, alice, job["id"])
    today = datetime.now(UTC).astimezone(ZoneInfo(ZONE)).date()
    reason = f"budget: max_runs_per_day 2 reached for {today.isoformat()} ({ZONE})"
    assert paused["status"] == "paused" and paused["paused_reason"] == reason
    await asyncio.sleep(1.5)  # a fire may have started before the schedule paused
    before = await runs()
    await asyncio.sleep(2.5)  # the schedule is paused: no more fires
    seen = await runs()
    assert len(seen) == len(before), "the schedule of a budget-paused job kept firing"
    assert [r["status"] for r in seen].count("completed") == 2, seen
    skipped = [r for r in seen if r["status"] == "skipped"]
    assert skipped and all(r["attempts"] == 0 for r in skipped)
    assert {(r["trigger"], r["skip_reason"]) for r in skipped} == {("schedule", reason)}
    assert (await temporal_client.get_schedule_handle(job["id"]).describe()).schedule.state.paused

    # A trigger is refused by the budget too (it counts no run, and the job stays paused).
    triggered = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert triggered["status"] == "skipped" and triggered["skip_reason"] == reason

    # A new schedule keeps the budget pause (and, yearly, no fire races the checks below).
    response = await api.http.put(f"{JOBS}/{job['id']}", json={"schedule": YEARLY}, headers=alice)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "paused"
    assert response.json()["budget_reopens_at"] == paused["budget_reopens_at"]
    # Another job, paused by the user.
    manual = await create(api, alice, schedule=YEARLY)
    await api.http.post(f"{JOBS}/{manual['id']}/pause", headers=alice)

    reopens = datetime.fromisoformat(paused["budget_reopens_at"])
    assert reopens == next_local_midnight(ZONE)
    engine = make_engine(settings.resolved_database_url)
    env = ActivityEnvironment()
    try:
        # Just before local midnight the day's budget is still spent.
        early = tick_at(settings, temporal_client, engine, reopens - timedelta(seconds=1))
        result = await env.run(early.reconcile, ReconcileInput(workflow_id="t1", grace_seconds=0))
        assert result.budget_reopened == 0
        assert (await job_of(api, alice, job["id"]))["status"] == "paused"
        # A run starting on the new local day may start: none of it is spent.
        recorder = RunRecorder(engine, temporal_client)
        check = BudgetCheck(
            run_id="run_tomorrow",
            job_id=job["id"],
            timezone=ZONE,
            budget=Budget(max_runs_per_day=2),
            at=reopens + timedelta(minutes=1),
        )
        assert (await env.run(recorder.check_budget, check)).allowed is True

        # At local midnight the tick resumes it: the row and the schedule.
        late = tick_at(settings, temporal_client, engine, reopens + timedelta(seconds=1))
        result = await env.run(late.reconcile, ReconcileInput(workflow_id="t2", grace_seconds=0))
        assert result.budget_reopened == 1
    finally:
        await engine.dispose()
    reopened = await job_of(api, alice, job["id"])
    assert reopened["status"] == "active" and reopened["paused_reason"] is None
    assert reopened["next_run_at"] is not None
    assert reopened["budget_reopens_at"] is None
    handle = temporal_client.get_schedule_handle(job["id"])
    assert not (await handle.describe()).schedule.state.paused
    await api.http.post(f"{JOBS}/{job['id']}/pause", headers=alice)
    # The user's pause stays, whatever the clock.
    assert (await job_of(api, alice, manual["id"]))["paused_reason"] == "paused by user"


async def test_a_budget_paused_job_paused_by_the_user_is_never_reopened(
    api: Api, worker: Worker, temporal_client: Client, settings: Settings
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, schedule=YEARLY, budget={"max_runs_per_day": 1})
    assert (await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"])))[
        "status"
    ] == "completed"
    skipped = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert skipped["status"] == "skipped" and skipped["skip_reason"].startswith("budget: ")
    assert (await job_of(api, alice, job["id"]))["budget_reopens_at"] is not None

    response = await api.http.post(f"{JOBS}/{job['id']}/pause", headers=alice)
    assert response.status_code == 200
    assert response.json()["paused_reason"] == "paused by user"
    assert response.json()["budget_reopens_at"] is None

    engine = make_engine(settings.resolved_database_url)
    try:
        tick = tick_at(settings, temporal_client, engine, datetime.now(UTC) + timedelta(days=40))
        result = await ActivityEnvironment().run(
            tick.reconcile, ReconcileInput(workflow_id="t", grace_seconds=0)
        )
    finally:
        await engine.dispose()
    assert result.budget_reopened == 0
    still = await job_of(api, alice, job["id"])
    assert still["status"] == "paused" and still["paused_reason"] == "paused by user"
    assert (await temporal_client.get_schedule_handle(job["id"]).describe()).schedule.state.paused

    # Resuming by hand works at once; over budget, the next run pauses it again.
    resumed = (await api.http.post(f"{JOBS}/{job['id']}/resume", headers=alice)).json()
    assert resumed["status"] == "active" and resumed["budget_reopens_at"] is None
    again = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert again["status"] == "skipped"
    assert (await job_of(api, alice, job["id"]))["paused_reason"].startswith("budget: ")
    # PUT enabled: false makes it the user's pause too.
    response = await api.http.put(f"{JOBS}/{job['id']}", json={"enabled": False}, headers=alice)
    assert response.status_code == 200, response.text
    assert response.json()["paused_reason"] == "paused by user"
    assert response.json()["budget_reopens_at"] is None


async def test_cost_budget_per_month_from_http_and_priced_openai_agents(
    api: Api, worker: Worker, llm: ScriptedServer
) -> None:
    llm.script(
        "/web", Reply(200, {"output": "report", "usage": {"cost_usd": 0.6, "input_tokens": 5}})
    )
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="web", schedule=YEARLY, budget={"max_cost_usd_per_month": 1}
    )
    for _ in range(2):
        run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
        assert run["status"] == "completed"
        assert run["usage"] == {
            "input_tokens": 5,
            "output_tokens": None,
            "total_tokens": 5,
            "cost_usd": 0.6,
        }
    over = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    zone = ZoneInfo(ZONE)
    month = datetime.now(UTC).astimezone(zone).date().replace(day=1)
    reason = f"budget: max_cost_usd_per_month 1 reached for {month:%Y-%m} ({ZONE}) (1.2000 used)"
    assert over["status"] == "skipped" and over["skip_reason"] == reason
    assert len(llm.calls("/web")) == 2
    paused = await job_of(api, alice, job["id"])
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    assert paused["paused_reason"] == reason
    assert datetime.fromisoformat(paused["budget_reopens_at"]) == local_midnight(following, zone)
    stats = await stats_of(api, alice, job["id"])
    assert stats["usage"]["cost_usd"] == 1.2 and stats["budget"]["cost_usd_this_month"] == 1.2

    # An openai agent with prices in the agents file: its tokens make the cost.
    llm.script(COMPLETIONS, completion("ok", 1000, 500))
    priced = await create(api, alice, agent_id="priced", schedule=YEARLY)
    run = await wait_run(api, alice, priced["id"], await trigger(api, alice, priced["id"]))
    assert run["usage"]["cost_usd"] == pytest.approx(0.007)  # 1000 × $2/M + 500 × $10/M
    # Without prices, a server's own usage.cost (OpenRouter's) is the cost.
    reply = completion("ok", 10, 5)
    reply.body["usage"]["cost"] = 0.25
    llm.script(COMPLETIONS, reply)
    unpriced = await create(api, alice, agent_id="llm", schedule=YEARLY)
    run = await wait_run(api, alice, unpriced["id"], await trigger(api, alice, unpriced["id"]))
    assert run["usage"] == {
        "input_tokens": 10,
        "output_tokens": 5,
        "total_tokens": 15,
        "cost_usd": 0.25,
    }


async def test_command_agents_report_usage_and_a_malformed_usage_fails_the_run(
    api: Api, worker: Worker, llm: ScriptedServer
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="counter", schedule=YEARLY)
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "completed" and run["output"] == "counted"
    assert run["usage"] == {
        "input_tokens": 7,
        "output_tokens": 3,
        "total_tokens": 10,
        "cost_usd": None,
    }
    # An agent that reports nothing has no usage.
    plain = await create(api, alice, schedule=YEARLY)
    run = await wait_run(api, alice, plain["id"], await trigger(api, alice, plain["id"]))
    assert run["status"] == "completed" and run["usage"] is None

    llm.script("/web", Reply(200, {"output": "x", "usage": {"input_tokens": -1}}))
    web = await create(api, alice, agent_id="web", schedule=YEARLY)
    run = await wait_run(api, alice, web["id"], await trigger(api, alice, web["id"]))
    assert run["status"] == "failed" and run["attempt_errors"][0]["kind"] == "bad_answer"
    assert "usage" in run["error"]


async def test_budget_runs_replay_with_recorded_histories(
    api: Api, worker: Worker, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, schedule=YEARLY, budget={"max_runs_per_day": 1})
    ran = await trigger(api, alice, job["id"])
    assert (await wait_run(api, alice, job["id"], ran))["status"] == "completed"
    skipped = await trigger(api, alice, job["id"])
    assert (await wait_run(api, alice, job["id"], skipped))["status"] == "skipped"
    fresh = {
        "budget_allowed": await temporal_client.get_workflow_handle(ran).fetch_history(),
        "budget_skipped": await temporal_client.get_workflow_handle(skipped).fetch_history(),
    }
    if os.environ.get("AGENT_SCHEDULER_RECORD_HISTORIES"):
        for name, history in fresh.items():
            (HISTORIES / f"job_run_{name}.json").write_text(history.to_json())
    recorded = [
        WorkflowHistory.from_json(path.stem, path.read_text())
        for path in sorted(HISTORIES.glob("job_run_*.json"))
    ]
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    for history in [*fresh.values(), *recorded]:
        await replayer.replay_workflow(history)
