"""The API SIGKILLed in the middle of 50 keyed creates and 50 keyed triggers; every request is
then retried with its `Idempotency-Key` and body until it is answered: exactly 50 jobs with 50
schedules and 50 runs, no agent execution doubled, no run failed or skipped, the job not paused.

Two shapes: one API process, restarted after the kill; and `agent-scheduler api --workers 2`
(two processes behind one port), one of them killed while the other keeps serving.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.harness import (
    AGENT_ID,
    BASE,
    CountingAgent,
    Fleet,
    Outcome,
    api_processes,
    doubled_runs,
    log,
    running_fleet,
    until,
)

REQUESTS = 50  # of each: keyed creates and keyed triggers
KILL_AFTER = 10  # answers received before the kill
RETRY_FOR = 180.0  # seconds: a dead request's claim lapses after 60 s
YEARLY = {"type": "cron", "expression": "0 0 1 1 *"}


class Client:
    """The 100 keyed requests, sent at once and then retried, with what each answer said."""

    def __init__(self, fleet: Fleet, http: httpx.AsyncClient, target: str) -> None:
        self.fleet = fleet
        self.http = http
        self.target = target
        self.answers: dict[str, list[httpx.Response]] = {}
        self.server_errors = 0

    def request(self, key: str) -> tuple[str, dict[str, Any] | None]:
        kind, n = key.split("-")
        if kind == "create":
            body = {"name": f"keyed {n}", "goal": "probe", "agent_id": AGENT_ID, "schedule": YEARLY}
            return f"{BASE}/jobs", body
        return f"{BASE}/jobs/{self.target}/trigger", None

    async def send(self, key: str) -> httpx.Response:
        path, body = self.request(key)
        response = await self.http.post(
            f"{self.fleet.api_url}{path}",
            json=body,
            headers={**self.fleet.headers, "Idempotency-Key": key},
        )
        self.answers.setdefault(key, []).append(response)
        return response

    async def until_answered(self, key: str) -> httpx.Response:
        """Retry ``key`` until a 2xx: a 409 "still in progress", a 5xx or a dropped connection
        is retried, any other answer fails the case."""
        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                response = await self.send(key)
            except httpx.TransportError:
                pass
            else:
                if response.is_success:
                    return response
                if response.status_code >= 500:
                    self.server_errors += 1
                elif not (response.status_code == 409 and "in progress" in response.text):
                    raise AssertionError(f"{key}: {response.status_code} {response.text}")
            assert time.monotonic() < deadline, f"{key} not answered within {RETRY_FOR:.0f} s"
            await asyncio.sleep(1)

    def ids(self) -> dict[str, set[str]]:
        """Per key, every job or run id its 2xx answers named."""
        field = {"create": "id", "trigger": "run_id"}
        return {
            key: {r.json()[field[key.split("-")[0]]] for r in answers if r.is_success}
            for key, answers in self.answers.items()
        }


async def _cut_short(client: Client, kill: Callable[[], None]) -> int:
    """Send every request at once; after ``KILL_AFTER`` answers, ``kill()``. Returns how many
    were answered before the kill (the rest failed or were cut off)."""
    keys = [f"{kind}-{n}" for n in range(REQUESTS) for kind in ("create", "trigger")]
    answered = 0
    killed = asyncio.Event()

    async def one(key: str) -> None:
        nonlocal answered
        try:
            response = await client.send(key)
        except httpx.TransportError:
            return
        if response.is_success and not killed.is_set():
            answered += 1
            if answered >= KILL_AFTER:
                killed.set()
                kill()

    await asyncio.gather(*(one(key) for key in keys))
    assert killed.is_set(), "the API answered fewer than KILL_AFTER requests"
    return answered


async def _case(
    name: str,
    fleet: Fleet,
    agent: CountingAgent,
    kill: Callable[[], None],
    revive: Callable[[], Awaitable[None]],
) -> None:
    outcome = Outcome(name, faults=1)
    async with httpx.AsyncClient(
        timeout=60, limits=httpx.Limits(max_connections=2 * REQUESTS)
    ) as http:
        target = await fleet.create_job(http, "trigger target", YEARLY)
        client = Client(fleet, http, target)
        before_kill = await _cut_short(client, kill)
        await revive()
        keys = [f"{kind}-{n}" for n in range(REQUESTS) for kind in ("create", "trigger")]
        retried = await asyncio.gather(*(client.until_answered(key) for key in keys))
        replayed = sum(r.headers.get("Idempotent-Replayed") == "true" for r in retried)
        ids = client.ids()
        # Every answer to one key named one job or run.
        assert all(len(named) == 1 for named in ids.values()), {
            key: named for key, named in ids.items() if len(named) != 1
        }
        job_ids = {next(iter(ids[f"create-{n}"])) for n in range(REQUESTS)}
        run_ids = {next(iter(ids[f"trigger-{n}"])) for n in range(REQUESTS)}

        listed = await http.get(
            f"{fleet.api_url}{BASE}/jobs", params={"limit": 200}, headers=fleet.headers
        )
        jobs = {job["id"]: job for job in listed.json()["jobs"]}
        temporal = await fleet.client()
        schedules = {s.id async for s in await temporal.list_schedules()}

        await until(
            lambda: asyncio.sleep(0, result=fleet.finished(run_ids) == run_ids),
            "every triggered run recorded finished",
            timeout=120,
        )
        target_job = (
            await http.get(f"{fleet.api_url}{BASE}/jobs/{target}", headers=fleet.headers)
        ).json()

    runs = fleet.runs()
    statuses = Counter(r["status"] for r in runs if r["job_id"] == target)
    outcome.runs = len(run_ids)
    outcome.lost = len(run_ids - fleet.finished(run_ids))
    outcome.doubled = doubled_runs(runs, agent)
    outcome.dispatches, outcome.executions = agent.totals()
    outcome.server_errors = client.server_errors
    outcome.extra = {
        "answered_before_kill": before_kill,
        "replayed": replayed,
        "jobs": len(jobs) - 1,
        "schedules": len(schedules & job_ids),
        "target_runs": sum(statuses.values()),
        "statuses": dict(statuses),
        "target": target_job["status"],
    }
    log(outcome.report())

    assert job_ids <= set(jobs) and len(jobs) == REQUESTS + 1, sorted(set(jobs) - job_ids)
    assert schedules >= job_ids | {target}, sorted(job_ids - schedules)
    assert len(run_ids) == REQUESTS
    assert statuses == {"completed": REQUESTS}, statuses
    assert outcome.lost == 0 and outcome.doubled == 0
    assert outcome.executions == REQUESTS, agent.runs_executed()
    assert target_job["status"] == "active" and target_job["consecutive_failures"] == 0
    assert outcome.server_errors == 0


@pytest.fixture
def agent_of_runs(agent: CountingAgent) -> CountingAgent:
    agent.delay = 0.2
    return agent


async def test_api_killed_mid_requests_then_restarted(
    tmp_path: Path, index_url: str, agent_of_runs: CountingAgent
) -> None:
    async with running_fleet(
        tmp_path, index_url, agent_of_runs, tick_interval_seconds="5", idempotency_wait_seconds="5"
    ) as fleet:
        api = fleet.api
        assert api is not None
        await _case(
            "API SIGKILLed mid keyed requests, restarted",
            fleet,
            agent_of_runs,
            kill=api.kill,
            revive=fleet.start_api,
        )


async def test_one_of_two_api_processes_killed_mid_requests(
    tmp_path: Path, index_url: str, agent_of_runs: CountingAgent
) -> None:
    async with running_fleet(
        tmp_path,
        index_url,
        agent_of_runs,
        api_args=("--workers", "2"),
        tick_interval_seconds="5",
        idempotency_wait_seconds="5",
    ) as fleet:
        assert fleet.api is not None
        serving = api_processes(fleet.api.pid)
        assert len(serving) == 2, f"api --workers 2 serves from {serving}"

        async def the_other_serves() -> None:
            pass  # uvicorn may start a new process; the survivor serves meanwhile

        await _case(
            "1 of 2 API processes SIGKILLed mid keyed requests",
            fleet,
            agent_of_runs,
            kill=lambda: os.kill(min(serving), signal.SIGKILL),
            revive=the_other_serves,
        )
