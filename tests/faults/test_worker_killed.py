"""A worker SIGKILLed with runs in flight; a new worker finishes every one of them
(docs/api.md, "Runs")."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import httpx

from tests.faults.harness import (
    CountingAgent,
    Outcome,
    doubled_runs,
    log,
    running_fleet,
    until,
)

RUNS = 20


async def test_worker_killed_with_runs_in_flight(
    tmp_path: Path, index_url: str, agent: CountingAgent
) -> None:
    agent.delay = 3.0
    outcome = Outcome("worker SIGKILLed", faults=1)
    async with (
        running_fleet(tmp_path, index_url, agent) as fleet,
        httpx.AsyncClient(timeout=30) as http,
    ):
        job_id = await fleet.create_job(
            http, "in flight", {"type": "cron", "expression": "0 0 1 1 *"}
        )
        run_ids = set(await asyncio.gather(*(fleet.trigger(http, job_id) for _ in range(RUNS))))
        outcome.runs = len(run_ids)

        async def all_dispatched() -> bool:
            return agent.in_flight(run_ids) == RUNS

        await until(all_dispatched, "every run calling the agent", 30)
        fleet.workers[0].send_signal(signal.SIGKILL)
        fleet.workers[0].wait()
        log(f"worker killed with {RUNS} agent calls in flight")
        await fleet.start_worker()

        async def all_finished() -> bool:
            return fleet.finished(run_ids) == run_ids

        took = await until(all_finished, "every run finished in the index", 90)
        runs = [r for r in fleet.runs() if r["id"] in run_ids]
        statuses = Counter(r["status"] for r in runs)
        job = (
            await http.get(f"{fleet.api_url}/api/scheduler/jobs/{job_id}", headers=fleet.headers)
        ).json()
        stats = (
            await http.get(
                f"{fleet.api_url}/api/scheduler/jobs/{job_id}/stats", headers=fleet.headers
            )
        ).json()

    outcome.lost = RUNS - statuses["completed"]
    outcome.doubled = doubled_runs(runs, agent)
    outcome.dispatches, outcome.executions = agent.totals()
    # What the runs say Temporal dispatched: every duplicate call must show there.
    recorded_dispatches = sum(
        entry["dispatches"] for run in runs for entry in run["attempt_dispatches"] or []
    )
    outcome.extra = {
        "finished_after_s": round(took, 1),
        "idempotency_keyed": agent.keyed(),
        "recorded_dispatches": recorded_dispatches,
        "statuses": dict(statuses),
        "job_run_count": job["run_count"],
        "stats_total_runs": stats["total_runs"],
    }
    log(outcome.report())
    assert outcome.lost == 0 and outcome.doubled == 0, outcome.report()
    assert len(runs) == RUNS and outcome.executions == RUNS
    # Every call, the repeated ones too, carried the attempt's one key, and the runs show them.
    assert agent.keyed() == outcome.dispatches and agent.bad_keys == 0, outcome.report()
    assert recorded_dispatches >= outcome.dispatches > RUNS, outcome.report()
    # Recorded once each: the job's counter and its stats count every run exactly once.
    assert job["run_count"] == RUNS and stats["total_runs"] == RUNS, outcome.report()
    assert stats["runs_by_status"].get("completed") == RUNS
