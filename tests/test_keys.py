"""API keys (docs/api.md, "Keys and scopes" and "Limits of a key"): the key API of an admin
key, expiry, rotation with an overlap, immediate revocation, ``last_used_at``, the CLI's
options, and the limits a key puts on what it creates and starts (REST and MCP alike)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.runs import RunRecorder
from domain.budgets import Budget
from domain.contract.runs import BudgetCheck
from tests.helpers.api import JOBS, Api, job_body, tool_error
from tests.helpers.processes import CLI, clean_env

KEYS = "/api/scheduler/keys"
CHAINS = "/api/scheduler/chains"
EVERY_MINUTE = {"type": "cron", "expression": "* * * * *"}


async def test_an_admin_key_creates_lists_rotates_and_revokes_keys(api: Api) -> None:
    admin = await api.headers("alice", scope="admin", name="ops")
    created = await api.http.post(
        KEYS, json={"name": "wall screen", "scope": "read", "expires_in": "30d"}, headers=admin
    )
    assert created.status_code == 201, created.text
    wall = created.json()
    assert wall["scope"] == "read" and wall["name"] == "wall screen"
    assert wall["key"].startswith(wall["prefix"]) and wall["limits"] is None
    expires = datetime.fromisoformat(wall["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    reader = {"Authorization": f"Bearer {wall['key']}"}
    assert (await api.http.get(JOBS, headers=reader)).status_code == 200
    itself = (await api.http.get("/api/scheduler/key", headers=reader)).json()
    assert itself["id"] == wall["id"] and itself["scope"] == "read" and "key" not in itself

    listed = (await api.http.get(KEYS, headers=admin)).json()
    assert listed["count"] == 2 and wall["key"] not in json.dumps(listed)
    shown = next(key for key in listed["keys"] if key["id"] == wall["id"])
    assert set(shown) == {
        "id", "name", "prefix", "scope", "limits", "created_at", "expires_at", "last_used_at",
        "revoked_at",
    }  # fmt: skip
    assert shown["last_used_at"] is not None  # the GET above
    used = shown["last_used_at"]
    assert (await api.http.get(JOBS, headers=reader)).status_code == 200
    again = (await api.http.get(KEYS, headers=admin)).json()["keys"]
    assert next(k for k in again if k["id"] == wall["id"])["last_used_at"] == used  # < 1 min

    # Rotation: the old key keeps working for the overlap, the new one has its scope.
    rotated = await api.http.post(KEYS, json={"replaces": wall["id"], "overlap": 1}, headers=admin)
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["scope"] == "read" and new["name"] == "wall screen"
    assert (await api.http.get(JOBS, headers=reader)).status_code == 200
    await asyncio.sleep(1.2)
    expired = await api.http.get(JOBS, headers=reader)
    assert expired.status_code == 401 and "expired" in expired.json()["message"]
    newer = {"Authorization": f"Bearer {new['key']}"}
    assert (await api.http.get(JOBS, headers=newer)).status_code == 200

    # Revocation answers 401 from the next request; another owner's key is not found.
    assert (await api.http.delete(f"{KEYS}/{new['id']}", headers=admin)).status_code == 204
    revoked = await api.http.get(JOBS, headers=newer)
    assert revoked.status_code == 401 and "revoked" in revoked.json()["message"]
    bob = await api.headers("bob", scope="admin")
    assert (await api.http.delete(f"{KEYS}/{wall['id']}", headers=bob)).status_code == 404
    unknown = await api.http.post(KEYS, json={"replaces": wall["id"]}, headers=bob)
    assert unknown.status_code == 404
    bad = await api.http.post(KEYS, json={"scope": "root", "expires_in": "soon"}, headers=admin)
    assert bad.status_code == 422
    assert {d["field"] for d in bad.json()["details"]} == {"scope", "expires_in"}


async def test_a_limited_key_is_held_to_its_limits(api: Api) -> None:
    limits = {"max_jobs": 1, "min_interval_seconds": 3600, "agents": ["echo"], "no_trigger": True}
    key_id, agent = await api.key("alice", limits=limits)

    fast = await api.http.post(
        JOBS, json=job_body(schedule={"type": "every", "interval": "1m"}), headers=agent
    )
    assert fast.status_code == 422 and fast.json()["details"][0]["field"] == "schedule"
    assert "min_interval_seconds is 3600" in fast.json()["message"]
    cron = await api.http.post(JOBS, json=job_body(schedule=EVERY_MINUTE), headers=agent)
    assert cron.status_code == 422 and "min_interval_seconds" in cron.json()["message"]
    tool = await tool_error(api, agent, "create_job", job_body(schedule=EVERY_MINUTE))
    assert tool["status"] == 422 and "min_interval_seconds is 3600" in tool["message"]

    created = await api.http.post(JOBS, json=job_body(), headers=agent)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["created_by"] == key_id
    second = await api.http.post(JOBS, json=job_body(), headers=agent)
    assert second.status_code == 403 and "max_jobs is 1" in second.json()["message"]

    update = await api.http.put(
        f"{JOBS}/{job['id']}", json={"schedule": EVERY_MINUTE}, headers=agent
    )
    assert update.status_code == 422 and "min_interval_seconds" in update.json()["message"]
    trigger = await api.http.post(f"{JOBS}/{job['id']}/trigger", headers=agent)
    assert trigger.status_code == 403 and "no_trigger" in trigger.json()["message"]
    # A chain runs as often as its jobs fire: one of the owner's every-minute jobs is refused.
    owner = await api.headers("alice")  # unlimited: it may still do all of it
    busy = await api.http.post(JOBS, json=job_body(schedule=EVERY_MINUTE), headers=owner)
    assert busy.status_code == 201, busy.text
    chain = {"name": "c", "jobs": [job["id"], busy.json()["id"]]}
    refused = await api.http.post(CHAINS, json=chain, headers=agent)
    assert refused.status_code == 422 and refused.json()["details"][0]["field"] == "jobs.1"
    own = await api.http.post(CHAINS, json={"name": "c", "jobs": [job["id"]]}, headers=agent)
    assert own.status_code == 201, own.text
    started = await api.http.post(f"{CHAINS}/{own.json()['id']}/trigger", headers=agent)
    assert started.status_code == 403 and "no_trigger" in started.json()["message"]


async def test_max_runs_per_day_and_agents_over_rest_and_mcp(api: Api) -> None:
    limits = {"max_runs_per_day": 1, "agents": ["echo"]}
    _, agent = await api.key("alice", limits=limits)
    created = await api.http.post(
        JOBS, json=job_body(budget={"max_runs_per_day": 5}), headers=agent
    )
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["budget"]["max_runs_per_day"] == 1  # capped by the key's limit
    first = await api.http.post(f"{JOBS}/{job['id']}/trigger", headers=agent)
    assert first.status_code == 202, first.text
    second = await api.http.post(f"{JOBS}/{job['id']}/trigger", headers=agent)
    assert second.status_code == 403 and "max_runs_per_day is 1" in second.json()["message"]
    # A hook delivery has no key: the limit of the key that created the job holds.
    hook = (await api.http.post(f"{JOBS}/{job['id']}/hooks", headers=agent)).json()
    delivered = await api.http.post(
        f"/api/scheduler/hooks/{hook['id']}",
        json={"event": "push"},
        headers={"Authorization": f"Bearer {hook['secret']}"},
    )
    assert delivered.status_code == 403 and "max_runs_per_day" in delivered.json()["message"]

    # The MCP tools go through the same checks.
    refused = await tool_error(api, agent, "trigger_job", {"job_id": job["id"]})
    assert refused["status"] == 403 and "max_runs_per_day" in refused["message"]
    fast = await tool_error(
        api, agent, "create_job", {**job_body(), "schedule": {"type": "every", "interval": 60}}
    )
    assert fast == {}  # no min_interval on this key
    _, elsewhere = await api.key("alice", limits={"agents": ["claude"]})
    other = await tool_error(api, elsewhere, "create_job", job_body())
    assert other["status"] == 422 and other["details"][0]["field"] == "agent_id"
    assert "not in this key's limit agents (claude)" in other["message"]


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, env=clean_env(), timeout=60, check=check
    )


@pytest.mark.server
def test_keys_create_takes_scope_expiry_limits_and_rotation(tmp_path: Path) -> None:
    data = ("--data-dir", str(tmp_path))
    created = cli(
        "keys", "create", "--owner", "alice", "--scope", "read", "--name", "wall screen",
        "--expires-in", "30d", "--max-jobs", "2", "--min-interval", "15m", "--agents", "echo,b",
        "--no-trigger", *data,
    )  # fmt: skip
    assert "(read, expires" in created.stderr
    key_id = re.search(r"key_\w+", created.stderr)
    assert key_id is not None
    row = next(line for line in cli("keys", "list", *data).stdout.splitlines() if key_id[0] in line)
    assert "wall screen" in row and "read (limited)" in row
    rotated = cli("keys", "create", "--replaces", key_id[0], "--overlap", "1h", *data)
    assert "alice" in rotated.stderr and f"{key_id[0]} keeps working for 1h" in rotated.stderr
    bad = cli("keys", "create", "--owner", "a", "--scope", "root", "--min-interval", "x", *data,
              check=False)  # fmt: skip
    assert bad.returncode == 2 and "--scope" in bad.stderr and "--min-interval" in bad.stderr


async def test_a_keys_max_runs_per_day_holds_scheduled_runs_across_its_jobs(
    api: Api, temporal_client: Client
) -> None:
    """A scheduled run's budget check also counts every job of the key that created its job:
    the run is skipped past the key's limit, the job stays active (docs/api.md, "Limits of a
    key")."""
    _, agent = await api.key("alice", limits={"max_runs_per_day": 2})
    first, second = [
        (await api.http.post(JOBS, json=job_body(), headers=agent)).json() for _ in range(2)
    ]
    assert second["budget"]["max_runs_per_day"] == 2
    for _ in range(2):  # the key's day used up by its first job
        started = await api.http.post(f"{JOBS}/{first['id']}/trigger", headers=agent)
        assert started.status_code == 202, started.text
    alice = await api.headers("alice")
    free = (await api.http.post(JOBS, json=job_body(), headers=alice)).json()
    recorder = RunRecorder(api.state.sessions.kw["bind"], temporal_client)
    env = ActivityEnvironment()

    def check(job: dict[str, Any]) -> BudgetCheck:
        return BudgetCheck(
            run_id=f"run_scheduled_{job['id']}",
            job_id=job["id"],
            timezone="UTC",
            budget=Budget(max_runs_per_day=2),
            at=datetime.now(UTC),
        )

    held = await env.run(recorder.check_budget, check(second))
    assert not held.allowed and not held.paused
    assert held.reason is not None and "max_runs_per_day is 2" in held.reason
    assert (await env.run(recorder.check_budget, check(free))).allowed
    job = (await api.http.get(f"{JOBS}/{second['id']}", headers=agent)).json()
    assert job["status"] == "active"
