"""300 jobs due the same minute (``* * * * *``) on two workers, one SIGKILLed during the fan-out:
every fire starts once and is recorded with its ``completed_at``."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.faults.harness import (
    CountingAgent,
    Outcome,
    doubled_runs,
    log,
    running_fleet,
    until,
)

# FAULTS_FANOUT_JOBS=30 while developing; the suite's number is 300.
JOBS = int(os.environ.get("FAULTS_FANOUT_JOBS", "300"))
EVERY_MINUTE = {"type": "cron", "expression": "* * * * *"}


@pytest.mark.timeout(480)
async def test_jobs_due_the_same_minute_with_a_worker_killed(
    tmp_path: Path, index_url: str, agent: CountingAgent
) -> None:
    agent.delay = 1.0
    outcome = Outcome(f"{JOBS} jobs due the same minute, 1 of 2 workers SIGKILLed", faults=1)
    async with (
        running_fleet(tmp_path, index_url, agent, workers=2) as fleet,
        httpx.AsyncClient(timeout=60) as http,
    ):
        gate = asyncio.Semaphore(10)

        async def create(n: int) -> str:
            async with gate:
                return await fleet.create_job(http, f"minutely {n}", EVERY_MINUTE)

        jobs = set(await asyncio.gather(*(create(n) for n in range(JOBS))))
        # The first minute every job is due at (some may have fired once already meanwhile).
        now = datetime.now(UTC)
        minute = (now + timedelta(seconds=62)).replace(second=0, microsecond=0)
        if minute - now > timedelta(seconds=60):
            minute -= timedelta(minutes=1)
        log(f"{JOBS} jobs created; all due at {minute:%H:%M:%S}")

        def fired() -> list[dict[str, object]]:
            return [r for r in fleet.runs() if r["job_id"] in jobs and r["scheduled_at"] == minute]

        async def fan_out_under_way() -> bool:
            return len(fired()) >= JOBS // 3

        await asyncio.sleep(max(0.0, (minute - datetime.now(UTC)).total_seconds()))
        await until(fan_out_under_way, "a third of the fires started", 60)
        victim = fleet.workers[1]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed_after = (datetime.now(UTC) - minute).total_seconds()
        log(f"worker 1 killed {killed_after:.1f} s after the minute, {len(fired())} fires started")

        async def all_recorded() -> bool:
            runs = fired()
            return len({r["job_id"] for r in runs if r["completed_at"] is not None}) == JOBS

        try:
            await until(all_recorded, f"every fire of {minute:%H:%M} recorded completed", 240)
        finally:
            runs = fleet.runs()
            at_minute = [r for r in runs if r["job_id"] in jobs and r["scheduled_at"] == minute]
            log(f"recorded fires of the minute: {len(at_minute)}")

    completed = [r for r in at_minute if r["status"] == "completed" and r["completed_at"]]
    last_started = max(r["started_at"] for r in at_minute)
    last_completed = max(r["completed_at"] for r in completed)
    outcome.runs = len(at_minute)
    outcome.lost = JOBS - len({r["job_id"] for r in completed})
    outcome.doubled = doubled_runs(runs, agent)
    outcome.dispatches, outcome.executions = agent.totals()
    outcome.extra = {
        "statuses": dict(Counter(r["status"] for r in at_minute)),
        "killed_after_minute_s": round(killed_after, 1),
        "last_started_after_minute_s": round((last_started - minute).total_seconds(), 1),
        "last_recorded_after_minute_s": round((last_completed - minute).total_seconds(), 1),
        "all_runs_seen": len(runs),
    }
    log(outcome.report())
    assert outcome.lost == 0 and outcome.doubled == 0, outcome.report()
    assert len(at_minute) == JOBS
