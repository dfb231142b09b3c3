"""Alerts and incidents end to end (docs/alerts.md): an http agent failing on purpose, alerts
received by a webhook receiver, a Slack-like server and an SMTP server on loopback, every
message counted; missed fires, deadlines and long runs seen by the tick."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.incidents import IncidentNotifier
from activities.runs import RunRecorder
from activities.tick.incidents import watch
from activities.tick.scope import TickScope
from api.core.index.db import make_engine
from api.core.settings import Settings
from tests.helpers.api import JOBS, Api, create, eventually, trigger, wait_run
from tests.helpers.mail import Mailbox, smtp_server, with_channels
from tests.helpers.servers import Reply, ScriptedServer, serve
from worker import running_worker

INCIDENTS = "/api/scheduler/incidents"
ALERTS = "/api/scheduler/settings/alerts"
SLACK = "/api/chat.postMessage"
HOOK = "/hook"
FAIL = Reply(500, {"error": "boom"})
GOOD = Reply(200, {"output": "all good", "data": {}})
RETRY = {"max_attempts": 2, "strategy": "fixed", "base_delay": 0}


@pytest.fixture
def agent() -> Iterator[ScriptedServer]:
    yield from serve()


@pytest.fixture
def receivers() -> Iterator[ScriptedServer]:
    """One server answering Slack's chat.postMessage and a webhook."""
    for server in serve():
        server.script(SLACK, Reply(200, {"ok": True, "ts": "1.1"}))
        server.script(HOOK, Reply(200, {}))
        yield server


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as served:
        yield served


@pytest.fixture
def settings(
    settings: Settings,
    agent: ScriptedServer,
    receivers: ScriptedServer,
    mailbox: tuple[Mailbox, int],
    tmp_path: Path,
) -> Settings:
    return with_channels(
        settings,
        agent_url=agent.url,
        slack_url=receivers.url,
        smtp_port=mailbox[1],
        agents=tmp_path / "agents.toml",
    )


@pytest.fixture
async def engine(settings: Settings, api: Api) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(settings.resolved_database_url)
    yield engine
    await engine.dispose()


async def tick_at(
    engine: AsyncEngine,
    client: Client,
    settings: Settings,
    now: datetime,
    last_tick: datetime | None = None,
) -> dict[str, int]:
    """The tick's incident step, as a tick at ``now`` runs it."""
    scope = TickScope(
        engine=engine,
        client=client,
        settings=settings,
        recorder=RunRecorder(engine, client),
        now=now,
        settled=now,
    )
    async with engine.connect() as conn:
        from api.core.index import jobs as index_jobs

        rows = await index_jobs.all_job_rows(conn)
    live = {row.id: row for row in rows if row.deleted_at is None}
    notifier = IncidentNotifier(engine, settings, clock=lambda: now)
    return dict(await watch(scope, live, last_tick, notifier))


def events(server: ScriptedServer, job_id: str | None = None) -> list[str]:
    """The incident events the webhook received, in order (of one job)."""
    return [
        seen.body["event"]
        for seen in server.calls(HOOK)
        if job_id is None or seen.body["incident"]["job_id"] == job_id
    ]


async def incidents(api: Api, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    response = await api.http.get(INCIDENTS, params=query, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def run_once(api: Api, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    return await wait_run(api, headers, job_id, await trigger(api, headers, job_id))


async def test_failing_job_alerts_once_reminds_and_recovers_once(
    api: Api,
    worker: Worker,
    agent: ScriptedServer,
    receivers: ScriptedServer,
    engine: AsyncEngine,
    temporal_client: Client,
    settings: Settings,
) -> None:
    alice = await api.headers("alice")
    agent.script("/agent", FAIL)
    hook = f"webhook:{receivers.url}{HOOK}"
    job = await create(
        api,
        alice,
        agent_id="web",
        retry=RETRY,
        max_consecutive_failures=0,
        alerts={"channel": hook, "after_failures": 2, "remind_every": "1h"},
    )
    assert job["alerts_from"] == "job" and job["alerts"]["after_failures"] == 2
    first = await run_once(api, alice, job["id"])
    assert first["status"] == "failed" and first["attempts"] == 2
    await asyncio.sleep(0.5)
    assert events(receivers) == [], "no message while a failure has not reached after_failures"
    for _ in range(9):
        assert (await run_once(api, alice, job["id"]))["status"] == "failed"
    await eventually(lambda: _async(bool(events(receivers))), "the opened notification")
    await asyncio.sleep(0.5)
    assert events(receivers) == ["incident.opened"]
    seen = receivers.calls(HOOK)[0]
    assert seen.headers["X-Agent-Scheduler-Signature"].startswith("sha256=")
    assert seen.headers["X-Agent-Scheduler-Delivery"].endswith("/opened")
    assert seen.body["incident"]["kind"] == "failing"
    page = await incidents(api, alice, status="open")
    assert page["count"] == 1
    incident = page["incidents"][0]
    assert incident["notifications"][0]["status"] == "sent"
    shown = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()
    assert [i["id"] for i in shown["open_incidents"]] == [incident["id"]]

    # Reminders: one per hour while open and not acknowledged.
    opened = datetime.fromisoformat(incident["opened_at"])
    for minutes in (30, 61, 62, 125):
        await tick_at(engine, temporal_client, settings, opened + timedelta(minutes=minutes))
    assert events(receivers) == ["incident.opened", "incident.reminder", "incident.reminder"]
    response = await api.http.post(f"{INCIDENTS}/{incident['id']}/ack", headers=alice)
    assert response.status_code == 200, response.text
    assert response.json()["acked_by"] == "alice"
    await tick_at(engine, temporal_client, settings, opened + timedelta(minutes=300))
    assert len(events(receivers)) == 3, "an acknowledged incident is not reminded"

    agent.script("/agent", GOOD)
    assert (await run_once(api, alice, job["id"]))["status"] == "completed"
    await eventually(lambda: _async(len(events(receivers)) == 4), "the recovery notice")
    assert (await run_once(api, alice, job["id"]))["status"] == "completed"
    await asyncio.sleep(0.5)
    assert events(receivers) == [
        "incident.opened",
        "incident.reminder",
        "incident.reminder",
        "incident.resolved",
    ]
    done = (await api.http.get(f"{INCIDENTS}/{incident['id']}", headers=alice)).json()
    assert done["status"] == "resolved" and done["resolved_reason"].endswith("completed")
    assert [n["status"] for n in done["notifications"]] == ["sent"] * 4
    stats = (await api.http.get("/api/scheduler/stats", headers=alice)).json()
    assert stats["open_incidents"] == 0


async def test_owner_default_own_alerts_and_none(
    api: Api,
    worker: Worker,
    agent: ScriptedServer,
    receivers: ScriptedServer,
    mailbox: tuple[Mailbox, int],
) -> None:
    alice = await api.headers("alice")
    agent.script("/agent", FAIL)
    assert (await api.http.get(ALERTS, headers=alice)).json() is None
    response = await api.http.put(ALERTS, json={"channel": "email:ops@example.com"}, headers=alice)
    assert response.status_code == 200, response.text
    by_default = await create(api, alice, name="by default", agent_id="web", retry=RETRY)
    own = await create(api, alice, name="own", agent_id="web", alerts={"channel": "slack:#ops"})
    silent = await create(api, alice, name="silent", agent_id="web", alerts=None)
    assert [j["alerts_from"] for j in (by_default, own, silent)] == ["owner", "job", "off"]
    for job in (by_default, own, silent):
        assert (await run_once(api, alice, job["id"]))["status"] == "failed"
    box = mailbox[0]
    await eventually(
        lambda: _async(len(box.messages) == 1 and len(receivers.calls(SLACK)) == 1),
        "one e-mail and one Slack message",
    )
    await asyncio.sleep(0.5)
    assert len(box.messages) == 1 and len(receivers.calls(SLACK)) == 1
    mail = box.messages[0][1]
    assert "by default" in mail["Subject"] and mail.is_multipart()
    assert "text/html" in [part.get_content_type() for part in mail.walk()]
    slack = receivers.calls(SLACK)[0].body
    assert slack["channel"] == "#ops" and slack["blocks"][0]["type"] == "header"
    page = await incidents(api, alice, status="open", kind="failing")
    assert page["count"] == 3, "incidents are recorded whether or not they notify"
    quiet = (await incidents(api, alice, job_id=silent["id"]))["incidents"][0]
    assert quiet["notify"] is False and quiet["notifications"] == []


async def test_twenty_jobs_failing_together_alert_once_each(
    api: Api, worker: Worker, agent: ScriptedServer, receivers: ScriptedServer
) -> None:
    alice = await api.headers("alice")
    agent.script("/agent", FAIL)
    hook = f"webhook:{receivers.url}{HOOK}"
    await api.http.put(ALERTS, json={"channel": hook}, headers=alice)
    jobs = await asyncio.gather(
        *(create(api, alice, name=f"job {n}", agent_id="web") for n in range(20))
    )
    for _ in range(2):
        runs = await asyncio.gather(*(trigger(api, alice, job["id"]) for job in jobs))
        await asyncio.gather(
            *(wait_run(api, alice, job["id"], run) for job, run in zip(jobs, runs, strict=True))
        )
    await eventually(lambda: _async(len(events(receivers)) >= 20), "20 opened notifications")
    await asyncio.sleep(1)
    assert sorted(seen.body["incident"]["job_id"] for seen in receivers.calls(HOOK)) == sorted(
        job["id"] for job in jobs
    )
    assert set(events(receivers)) == {"incident.opened"}


async def test_missed_fire_opens_and_the_next_fire_resolves(
    api: Api,
    receivers: ScriptedServer,
    engine: AsyncEngine,
    temporal_client: Client,
    settings: Settings,
) -> None:
    """No worker polls the job's task queue: its fires start nothing the index sees."""
    alice = await api.headers("alice")
    hook = f"webhook:{receivers.url}{HOOK}"
    job = await create(
        api,
        alice,
        schedule={"type": "every", "interval": "5s", "timezone": "UTC"},
        grace_seconds=1,
        alerts={"channel": hook},
    )
    await asyncio.sleep(7)
    counts = await tick_at(engine, temporal_client, settings, datetime.now(UTC))
    assert counts.get("opened") == 1
    assert events(receivers, job["id"]) == ["incident.opened"]
    again = await tick_at(engine, temporal_client, settings, datetime.now(UTC))
    assert "opened" not in again, "one missed incident per job"
    missed = (await incidents(api, alice, kind="missed"))["incidents"][0]
    assert missed["fire_at"] is not None
    explained = await api.http.get(
        f"{JOBS}/{job['id']}/explain", params={"at": missed["fire_at"]}, headers=alice
    )
    assert explained.json()["incident"]["id"] == missed["id"]
    async with running_worker(temporal_client, settings):
        await eventually(
            lambda: _async_call(incidents(api, alice, status="open"), lambda p: p["count"] == 0),
            "the missed incident resolved by the next fire",
            timeout=30,
        )
        await eventually(lambda: _async(len(events(receivers)) == 2), "the recovery notice")
    assert events(receivers, job["id"]) == ["incident.opened", "incident.resolved"]


async def test_deadline_passed_opens_late_and_a_completed_run_resolves(
    api: Api,
    worker: Worker,
    agent: ScriptedServer,
    receivers: ScriptedServer,
    engine: AsyncEngine,
    temporal_client: Client,
    settings: Settings,
) -> None:
    alice = await api.headers("alice")
    hook = f"webhook:{receivers.url}{HOOK}"
    now = datetime.now(UTC)
    job = await create(
        api,
        alice,
        agent_id="web",
        schedule={"type": "cron", "expression": "0 3 1 1 *", "timezone": "UTC"},
        deadline={"by": f"{now:%H:%M}", "days": "mon-sun"},
        alerts={"channel": hook},
    )
    later = now + timedelta(days=1, minutes=1)
    assert (await tick_at(engine, temporal_client, settings, later)).get("opened") == 1
    assert (await tick_at(engine, temporal_client, settings, later)).get("opened") is None
    late = (await incidents(api, alice, kind="late"))["incidents"][0]
    assert late["status"] == "open" and "deadline" in late["reason"]
    agent.script("/agent", GOOD)
    assert (await run_once(api, alice, job["id"]))["status"] == "completed"
    await eventually(lambda: _async(len(events(receivers)) == 2), "the recovery notice")
    assert events(receivers) == ["incident.opened", "incident.resolved"]
    # The same deadline, met late, does not open again.
    assert (await tick_at(engine, temporal_client, settings, later)).get("opened") is None


async def test_a_run_past_max_run_seconds_is_late(
    api: Api,
    worker: Worker,
    agent: ScriptedServer,
    engine: AsyncEngine,
    temporal_client: Client,
    settings: Settings,
) -> None:
    alice = await api.headers("alice")
    agent.script("/agent", Reply(200, {"output": "slow", "data": {}}, delay=3))
    job = await create(api, alice, agent_id="web", max_run_seconds=1)
    run_id = await trigger(api, alice, job["id"])
    await asyncio.sleep(1.5)
    counts = await tick_at(engine, temporal_client, settings, datetime.now(UTC))
    assert counts.get("opened") == 1
    late = (await incidents(api, alice, kind="late", status="open"))["incidents"][0]
    assert late["details"]["run_id"] == run_id
    await wait_run(api, alice, job["id"], run_id)
    assert (await incidents(api, alice, status="open"))["count"] == 0


async def test_self_pause_opens_paused_and_a_resume_resolves_it(
    api: Api,
    worker: Worker,
    agent: ScriptedServer,
    receivers: ScriptedServer,
    engine: AsyncEngine,
    temporal_client: Client,
    settings: Settings,
) -> None:
    alice = await api.headers("alice")
    agent.script("/agent", FAIL)
    hook = f"webhook:{receivers.url}{HOOK}"
    job = await create(
        api,
        alice,
        agent_id="web",
        max_consecutive_failures=2,
        alerts={"channel": hook, "on": ["paused"]},
    )
    for _ in range(2):
        await run_once(api, alice, job["id"])
    await eventually(lambda: _async(len(events(receivers)) == 1), "the paused notification")
    opened = (await incidents(api, alice, status="open"))["incidents"]
    assert sorted(i["kind"] for i in opened) == ["failing", "paused"]
    assert receivers.calls(HOOK)[0].body["incident"]["kind"] == "paused"
    response = await api.http.post(f"{JOBS}/{job['id']}/resume", headers=alice)
    assert [i["kind"] for i in response.json()["open_incidents"]] == ["failing"]
    await tick_at(engine, temporal_client, settings, datetime.now(UTC))
    assert events(receivers) == ["incident.opened", "incident.resolved"]


async def _async(value: bool) -> bool:
    return value


async def _async_call(awaitable: Any, check: Any) -> bool:
    return bool(check(await awaitable))
