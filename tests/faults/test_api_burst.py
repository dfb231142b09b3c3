"""An API burst: 2,000 requests from 50 concurrent clients mixing list, create and trigger; no 5xx,
every created job has exactly one Temporal schedule, every accepted trigger runs once."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from pathlib import Path

import httpx
from temporalio.service import RPCError

from tests.faults.harness import (
    BASE,
    CountingAgent,
    Outcome,
    doubled_runs,
    log,
    running_fleet,
    until,
)

REQUESTS = 2000
CLIENTS = 50
SEED_JOBS = 10
# 40 % lists, 30 % creates, 30 % triggers, interleaved.
MIX = (
    "list",
    "create",
    "trigger",
    "list",
    "create",
    "trigger",
    "list",
    "create",
    "trigger",
    "list",
)
YEARLY = {"type": "cron", "expression": "0 0 1 1 *"}


async def test_api_burst(tmp_path: Path, index_url: str, agent: CountingAgent) -> None:
    outcome = Outcome("API burst")
    async with (
        running_fleet(tmp_path, index_url, agent) as fleet,
        httpx.AsyncClient(
            timeout=60,
            limits=httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS),
        ) as http,
    ):
        jobs = [await fleet.create_job(http, f"seed {n}", YEARLY) for n in range(SEED_JOBS)]
        created: list[str] = []
        triggered: list[str] = []
        codes: Counter[int] = Counter()
        latencies: dict[str, list[float]] = {"list": [], "create": [], "trigger": []}
        errors: list[str] = []
        pending = iter(range(REQUESTS))

        async def one(index: int) -> None:
            what = MIX[index % len(MIX)]
            started = time.monotonic()
            if what == "list":
                answer = await http.get(
                    f"{fleet.api_url}{BASE}/jobs?limit=50", headers=fleet.headers
                )
            elif what == "create":
                answer = await http.post(
                    f"{fleet.api_url}{BASE}/jobs",
                    headers=fleet.headers,
                    json={
                        "name": f"burst {index}",
                        "goal": "probe",
                        "agent_id": "probe",
                        "schedule": YEARLY,
                    },
                )
                if answer.status_code == 201:
                    created.append(answer.json()["id"])
            else:
                job_id = jobs[index % len(jobs)]
                answer = await http.post(
                    f"{fleet.api_url}{BASE}/jobs/{job_id}/trigger", headers=fleet.headers
                )
                if answer.status_code == 202:
                    triggered.append(answer.json()["run_id"])
            latencies[what].append(time.monotonic() - started)
            codes[answer.status_code] += 1
            if answer.status_code >= 400:
                errors.append(f"{what} {answer.status_code} {answer.text[:200]}")

        async def client() -> None:
            for index in pending:
                await one(index)

        burst_started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        elapsed = time.monotonic() - burst_started
        all_latencies = sorted(x for xs in latencies.values() for x in xs)

        run_ids = set(triggered)

        async def all_finished() -> bool:
            return fleet.finished(run_ids) == run_ids

        settled = await until(all_finished, "every triggered run finished in the index", 180)

        temporal = await fleet.client()
        missing_schedules = 0
        for job_id in created + jobs:
            try:
                await temporal.get_schedule_handle(job_id).describe()
            except RPCError:
                missing_schedules += 1
        expected = set(created + jobs)

        async def listed_once() -> bool:
            ids = Counter([s.id async for s in await temporal.list_schedules()])
            return {i for i in ids if i.startswith("job_")} == expected and max(ids.values()) == 1

        await until(listed_once, "Temporal listing exactly one schedule per created job", 60)
        listed = (
            await http.get(f"{fleet.api_url}{BASE}/jobs?limit=1", headers=fleet.headers)
        ).json()

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] * 1000

    runs = fleet.runs()
    statuses = Counter(r["status"] for r in runs if r["id"] in run_ids)
    outcome.runs = len(run_ids)
    outcome.lost = len(run_ids) - statuses["completed"]
    outcome.doubled = doubled_runs(runs, agent)
    outcome.server_errors = sum(n for code, n in codes.items() if code >= 500)
    outcome.dispatches, outcome.executions = agent.totals()
    outcome.extra = {
        "requests": REQUESTS,
        "clients": CLIENTS,
        "codes": dict(codes),
        "created": len(created),
        "req_per_s": round(REQUESTS / elapsed, 1),
        "p50_ms": round(pct(all_latencies, 0.50)),
        "p99_ms": round(pct(all_latencies, 0.99)),
        **{f"p50_{k}_ms": round(statistics.median(v) * 1000) for k, v in latencies.items() if v},
        "missing_schedules": missing_schedules,
        "runs_settled_after_burst_s": round(settled, 1),
    }
    log(outcome.report())
    assert outcome.server_errors == 0 and not errors, errors[:5]
    assert outcome.lost == 0 and outcome.doubled == 0, outcome.report()
    assert missing_schedules == 0
    assert listed["count"] == len(expected)
    assert sum(codes.values()) == REQUESTS
