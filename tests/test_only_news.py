"""Only news (docs/agents.md): ``delivery.only_if_changed`` and the
silent marker, against a real HTTP server playing Slack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.worker import Worker

from api.core.settings import Settings
from tests.helpers.api import JOBS, Api, create, trigger, wait_run
from tests.helpers.servers import Reply, ScriptedServer, serve

SLACK = "/api/chat.postMessage"
OK = Reply(200, {"ok": True, "ts": "1700000000.000100"})
YEARLY = {"type": "cron", "expression": "0 8 1 1 *", "timezone": "UTC"}


@pytest.fixture
def slack() -> Iterator[ScriptedServer]:
    yield from serve()


@pytest.fixture
def agent() -> Iterator[ScriptedServer]:
    yield from serve()


@pytest.fixture
def settings(
    settings: Settings, slack: ScriptedServer, agent: ScriptedServer, tmp_path: Path
) -> Settings:
    path = tmp_path / "agents.toml"
    path.write_text(f'[agents.web]\nkind = "http"\nurl = "{agent.url}/agent"\n')
    settings.agents_file = path
    settings.slack_token = "xoxb-test-token"
    settings.slack_api_url = slack.url + "/api"
    settings.delivery_timeout_seconds = 5
    return settings


def answers(agent: ScriptedServer, *outputs: str) -> None:
    """The agent answers ``outputs`` in turn (the last one repeats)."""
    agent.script("/agent", *(Reply(200, {"output": o}) for o in outputs))


async def test_only_if_changed_posts_once_per_new_output(
    api: Api, worker: Worker, slack: ScriptedServer, agent: ScriptedServer
) -> None:
    slack.script(SLACK, OK)
    answers(
        agent,
        "BTC at 97,000",
        "  BTC   at\n97,000 \n",  # the same once trimmed and collapsed
        "BTC at 99,500",
        "BTC at 97,000",  # differs from the last delivered one (99,500)
    )
    alice = await api.headers("alice")
    job = await create(
        api,
        alice,
        agent_id="web",
        schedule=YEARLY,
        delivery={"channel": "slack:#markets", "format": "text", "only_if_changed": True},
    )
    assert job["delivery"]["only_if_changed"] is True
    runs = [await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))]
    runs.append(await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"])))
    assert [r["delivery"]["status"] for r in runs] == ["delivered", "skipped"]
    assert len(slack.calls(SLACK)) == 1, "the same output was posted twice"
    assert runs[1]["status"] == "completed" and runs[1]["output"] == "  BTC   at\n97,000 \n"
    assert runs[1]["delivery"]["reason"] == (
        f"only_if_changed: the output is the same as run {runs[0]['id']}'s, last delivered"
    )
    assert runs[1]["delivery"]["channel"] == "slack:#markets"

    runs.append(await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"])))
    runs.append(await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"])))
    assert [r["delivery"]["status"] for r in runs] == [
        "delivered",
        "skipped",
        "delivered",
        "delivered",
    ]
    texts = [call.body["text"] for call in slack.calls(SLACK)]
    assert len(texts) == 3
    assert "97,000" in texts[0] and "99,500" in texts[1] and "97,000" in texts[2]

    # Without only_if_changed, the same output is delivered every time.
    answers(agent, "same")
    plain = await create(
        api, alice, agent_id="web", schedule=YEARLY, delivery={"channel": "slack:#all"}
    )
    assert plain["delivery"]["only_if_changed"] is False
    for _ in range(2):
        run = await wait_run(api, alice, plain["id"], await trigger(api, alice, plain["id"]))
        assert run["delivery"]["status"] == "delivered"
    assert len(slack.calls(SLACK)) == 5


async def test_a_failed_delivery_is_not_the_last_delivered_output(
    api: Api, worker: Worker, slack: ScriptedServer, agent: ScriptedServer
) -> None:
    slack.script(SLACK, Reply(200, {"ok": False, "error": "channel_not_found"}))
    answers(agent, "news")
    alice = await api.headers("alice")
    job = await create(
        api,
        alice,
        agent_id="web",
        schedule=YEARLY,
        delivery={"channel": "slack:#gone", "only_if_changed": True},
    )
    failed = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert failed["delivery"]["status"] == "failed"
    slack.script(SLACK, OK)
    # The user never saw "news": it is still news.
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["delivery"]["status"] == "delivered"


async def test_a_silent_answer_is_never_delivered(
    api: Api, worker: Worker, slack: ScriptedServer, agent: ScriptedServer
) -> None:
    slack.script(SLACK, OK)
    answers(agent, "[SILENT]", "\n[SILENT]  \n", "[SILENT] but BTC moved")
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="web", schedule=YEARLY, delivery={"channel": "slack:#alerts"}
    )
    quiet = [await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))]
    quiet.append(await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"])))
    for run in quiet:
        assert run["status"] == "completed"
        assert run["delivery"]["status"] == "skipped"
        assert run["delivery"]["reason"] == "the agent answered [SILENT]: nothing to deliver"
    assert slack.calls(SLACK) == [], "a silent answer was posted"
    # A silent run has nothing to redeliver.
    response = await api.http.post(
        f"{JOBS}/{job['id']}/runs/{quiet[0]['id']}/redeliver", headers=alice
    )
    assert response.status_code == 409 and "[SILENT]" in response.json()["message"]
    # Only an output that is exactly the marker is silent.
    loud = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert loud["delivery"]["status"] == "delivered" and len(slack.calls(SLACK)) == 1


async def test_the_silent_marker_is_a_setting(
    api: Api, worker: Worker, slack: ScriptedServer, agent: ScriptedServer, settings: Settings
) -> None:
    settings.silent_marker = "NO_NEWS"  # the worker reads it per delivery
    slack.script(SLACK, OK)
    answers(agent, "NO_NEWS", "[SILENT]")
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="web", schedule=YEARLY, delivery={"channel": "slack:#alerts"}
    )
    first = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert first["delivery"]["status"] == "skipped"
    assert first["delivery"]["reason"] == "the agent answered NO_NEWS: nothing to deliver"
    second = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert second["delivery"]["status"] == "delivered"
    [call] = slack.calls(SLACK)
    assert "SILENT" in call.body["text"]


async def test_only_if_changed_must_be_a_boolean(api: Api) -> None:
    alice = await api.headers("alice")
    for value in ("yes", 1, None):
        response = await api.http.post(
            JOBS,
            json={
                "name": "x",
                "goal": "y",
                "agent_id": "echo",
                "schedule": YEARLY,
                "delivery": {"channel": "slack:#a", "only_if_changed": value},
            },
            headers=alice,
        )
        assert response.status_code == 422, response.text
        [detail] = response.json()["details"]
        assert detail["field"] == "delivery.only_if_changed"


async def test_a_run_its_budget_refused_records_its_delivery_skipped(
    api: Api, worker: Worker, slack: ScriptedServer, agent: ScriptedServer
) -> None:
    slack.script(SLACK, OK)
    answers(agent, "daily report")
    alice = await api.headers("alice")
    job = await create(
        api,
        alice,
        agent_id="web",
        schedule=YEARLY,
        delivery={"channel": "slack:#reports"},
        budget={"max_runs_per_day": 1},
    )
    first = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert first["delivery"]["status"] == "delivered"
    refused = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert refused["status"] == "skipped" and refused["delivery"]["status"] == "skipped"
    assert refused["delivery"]["reason"] == f"the run was not started: {refused['skip_reason']}"
    assert refused["skip_reason"].startswith("budget: max_runs_per_day 1 reached for ")
    assert len(slack.calls(SLACK)) == 1 and len(agent.calls("/agent")) == 1
