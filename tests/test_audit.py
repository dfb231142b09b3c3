"""The audit log (docs/api.md, "Audit log"): each change leaves one event, in its own
transaction, with who made it and what changed; refused requests leave none; owners see only
their own; the tick prunes old events."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import sqlalchemy as sa
from temporalio.worker import Worker

from activities.tick import retention
from activities.tick.budgets import reopen_budget_paused
from activities.tick.scope import TickScope
from api.core.index.audit import Actor, event_values
from api.core.index.db import make_engine
from api.core.index.jobs import all_job_rows
from api.core.index.models import audit_events, jobs
from api.core.settings import Settings
from tests.helpers.api import JOBS, Api, create, tool_error, trigger, wait_run

pytestmark = pytest.mark.server

API = "/api/scheduler"
AUDIT = f"{API}/audit"

AGENTS_TOML = """
[agents.failing]
kind = "command"
command = ["{python}", "-c", "import sys; sys.exit(3)"]
"""


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    path = tmp_path / "agents.toml"
    path.write_text(AGENTS_TOML.format(python=sys.executable))
    settings.agents_file = path
    return settings


async def history(api: Api, headers: dict[str, str], job_id: str) -> list[dict[str, Any]]:
    response = await api.http.get(f"{JOBS}/{job_id}/history", headers=headers)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def test_each_change_is_one_event_with_its_actor_and_diff(api: Api) -> None:
    key_id, alice = await api.key("alice", name="deploy bot")
    job = await create(api, alice)
    url = f"{JOBS}/{job['id']}"

    response = await api.http.put(
        url, json={"name": "Weekly digest", "timeout_seconds": 60}, headers=alice
    )
    assert response.status_code == 200, response.text
    assert (await api.http.post(f"{url}/pause", headers=alice)).status_code == 200
    assert (await api.http.post(f"{url}/pause", headers=alice)).status_code == 200  # no change
    assert (await api.http.post(f"{url}/resume", headers=alice)).status_code == 200
    keyed = {**alice, "Idempotency-Key": "trigger-1"}
    response = await api.http.post(f"{url}/trigger", headers=keyed)
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    assert (await api.http.post(f"{url}/trigger", headers=keyed)).status_code == 202  # replayed
    response = await api.http.post(f"{url}/runs/{run_id}/cancel", headers=alice)
    assert response.status_code == 202, response.text

    events = await history(api, alice, job["id"])
    assert [e["action"] for e in events] == [
        "run.cancel",
        "job.trigger",
        "job.resume",
        "job.pause",
        "job.update",
        "job.create",
    ]
    for event in events:
        assert (event["actor_kind"], event["actor_id"]) == ("key", key_id)
        assert (event["actor_name"], event["transport"]) == ("deploy bot", "rest")
        assert event["job_id"] == job["id"] and re.fullmatch(
            r"req_[0-9a-f]{16}", event["request_id"]
        )
    assert len({event["request_id"] for event in events}) == len(events)  # one id a request
    cancel, trigger_event, _, pause, update, _ = events
    assert cancel["target_id"] == run_id
    assert update["changes"] == {
        "name": {"before": "Daily digest", "after": "Weekly digest"},
        "timeout_seconds": {"before": job["timeout_seconds"], "after": 60},
    }
    assert pause["changes"] == {"reason": "paused by user"}
    assert trigger_event["target_id"] == run_id and trigger_event["idempotency_key"] == "trigger-1"

    # A caller's own X-Request-Id is kept (and answered); one that is not an id is replaced.
    for sent, kept in (("deploy-42", True), ("not an id!", False)):
        answer = await api.http.put(
            url, json={"goal": sent}, headers={**alice, "X-Request-Id": sent}
        )
        assert (answer.headers["x-request-id"] == sent) is kept
        recorded = (await history(api, alice, job["id"]))[0]
        assert recorded["request_id"] == answer.headers["x-request-id"]

    # Refused requests change nothing and record nothing.
    refused = [
        await api.http.put(url, json={"agent_id": "nope"}, headers=alice),
        await api.http.post(f"{JOBS}/job_missing/pause", headers=alice),
        await api.http.post(f"{url}/pause", headers=await api.headers("alice", scope="read")),
    ]
    assert [r.status_code for r in refused] == [422, 404, 403]
    assert len(await history(api, alice, job["id"])) == 8  # the six above and two goals

    # An agent over MCP is told apart from the same owner's REST calls.
    mcp_key, agent = await api.key("alice", name="planner")
    assert await tool_error(api, agent, "pause_job", {"job_id": job["id"]}) == {}
    assert await tool_error(api, agent, "delete_job", {"job_id": job["id"]}) == {}
    response = await api.http.get(AUDIT, params={"actor": mcp_key}, headers=alice)
    mcp_events = response.json()["events"]
    assert [(e["action"], e["transport"], e["actor_name"]) for e in mcp_events] == [
        ("job.delete", "mcp", "planner"),
        ("job.pause", "mcp", "planner"),
    ]
    assert response.json()["count"] == 2


async def test_skips_backfills_and_filters(api: Api) -> None:
    alice = await api.headers("alice")
    job = await create(
        api, alice, schedule={"type": "cron", "expression": "0 8 * * *", "timezone": "UTC"}
    )
    url = f"{JOBS}/{job['id']}"
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).replace(hour=8, minute=0, second=0)
    at = tomorrow.replace(microsecond=0, tzinfo=None).isoformat()
    response = await api.http.post(f"{url}/skip", json={"at": at}, headers=alice)
    assert response.status_code == 200, response.text
    response = await api.http.delete(f"{url}/skip/{at}", headers=alice)
    assert response.status_code == 200, response.text
    start = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    end = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    body = {"start": f"{start}T00:00:00", "end": f"{end}T00:00:00"}
    response = await api.http.post(f"{url}/backfill", json=body, headers=alice)
    assert response.status_code == 202, response.text
    backfill_id = response.json()["backfill_id"]

    actions = [e["action"] for e in await history(api, alice, job["id"])]
    assert actions == ["job.backfill", "job.unskip", "job.skip", "job.create"]
    found = await api.http.get(AUDIT, params={"action": "job.backfill"}, headers=alice)
    [event] = found.json()["events"]
    assert event["target_id"] == backfill_id and event["changes"]["fires"] == 2
    later = await api.http.get(
        AUDIT, params={"since": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, headers=alice
    )
    assert later.json() == {"events": [], "count": 0}

    # Another owner sees none of it, and not the job's history.
    bob = await api.headers("bob")
    assert (await api.http.get(AUDIT, headers=bob)).json() == {"events": [], "count": 0}
    assert (await api.http.get(f"{url}/history", headers=bob)).status_code == 404


async def test_a_self_pause_is_recorded_as_the_system(api: Api, worker: Worker) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="failing", max_consecutive_failures=1)
    await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    pause, _, _ = await history(api, alice, job["id"])
    assert (pause["action"], pause["actor_kind"], pause["actor_id"]) == (
        "job.pause",
        "system",
        "recorder",
    )
    assert pause["transport"] is None and "failed run" in pause["changes"]["reason"]
    system = await api.http.get(AUDIT, params={"actor": "system"}, headers=alice)
    assert system.json()["count"] == 1

    [incident, *_] = (await api.http.get(f"{API}/incidents", headers=alice)).json()["incidents"]
    for _ in range(2):  # the first acknowledgement is the change
        response = await api.http.post(f"{API}/incidents/{incident['id']}/ack", headers=alice)
        assert response.status_code == 200, response.text
    acks = await api.http.get(AUDIT, params={"action": "incident.ack"}, headers=alice)
    [ack] = acks.json()["events"]
    assert (ack["target_id"], ack["job_id"], ack["actor_kind"]) == (
        incident["id"],
        job["id"],
        "key",
    )


async def test_keys_and_hooks_are_recorded(api: Api) -> None:
    admin_id, admin = await api.key("alice", scope="admin", name="root")
    response = await api.http.post(f"{API}/keys", json={"name": "ci"}, headers=admin)
    assert response.status_code == 201, response.text
    made = response.json()["id"]
    assert (await api.http.delete(f"{API}/keys/{made}", headers=admin)).status_code == 204
    assert (await api.http.delete(f"{API}/keys/{made}", headers=admin)).status_code == 204
    assert (await api.http.delete(f"{API}/keys/key_nope", headers=admin)).status_code == 404

    job = await create(api, admin)
    response = await api.http.post(f"{JOBS}/{job['id']}/hooks", headers=admin)
    assert response.status_code == 201, response.text
    hook = response.json()
    sent = {"Authorization": f"Bearer {hook['secret']}"}
    response = await api.http.post(f"{API}/hooks/{hook['id']}", json={"x": 1}, headers=sent)
    assert response.status_code == 202, response.text
    run_id = response.json()["run_id"]
    assert (await api.http.delete(f"{API}/hooks/{hook['id']}", headers=admin)).status_code == 204

    events = (await api.http.get(AUDIT, headers=admin)).json()["events"]
    assert [(e["action"], e["actor_id"], e["target_id"]) for e in events] == [
        ("hook.delete", admin_id, hook["id"]),
        ("job.trigger", hook["id"], run_id),
        ("hook.create", admin_id, hook["id"]),
        ("job.create", admin_id, None),
        ("key.revoke", admin_id, made),
        ("key.create", admin_id, made),
    ]
    assert events[1]["actor_kind"] == "hook" and events[1]["transport"] is None


async def test_the_tick_prunes_events_past_their_retention(api: Api, settings: Settings) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    old = event_values(
        owner="alice",
        action="job.update",
        actor=Actor("key", "key_old", "old\x00name", "rest"),
        job_id=job["id"],
        changes={"goal": {"before": "a\x00", "after": "b"}},
        at=datetime.now(UTC) - timedelta(days=400),
    )
    engine = make_engine(settings.resolved_database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.insert(audit_events).values(**old))
        [_, stored] = await history(api, alice, job["id"])
        assert stored["actor_name"] == "old\ufffdname"  # NUL is not storable on PostgreSQL
        # The runs' period (90 days) does not apply: audit events are kept 365 days.
        tick = SimpleNamespace(engine=engine, settings=settings, now=datetime.now(UTC))
        assert (await retention.prune(cast(TickScope, tick)))["audit_events"] == 1
    finally:
        await engine.dispose()
    assert [e["action"] for e in await history(api, alice, job["id"])] == ["job.create"]


async def test_a_budget_reopening_is_recorded_as_the_system(api: Api, settings: Settings) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, enabled=False)
    now = datetime.now(UTC)
    engine = make_engine(settings.resolved_database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                jobs.update()
                .where(jobs.c.id == job["id"])
                .values(budget_reopens_at=now - timedelta(minutes=1))
            )
            rows = {row.id: row for row in await all_job_rows(conn)}
        client = await api.state.temporal.client()
        tick = SimpleNamespace(engine=engine, client=client, now=now)
        assert await reopen_budget_paused(cast(TickScope, tick), rows) == 1
    finally:
        await engine.dispose()
    resume, _ = await history(api, alice, job["id"])
    assert (resume["action"], resume["actor_kind"], resume["actor_id"]) == (
        "job.resume",
        "system",
        "budget",
    )
