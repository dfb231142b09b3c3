"""The Temporal server SIGKILLed and restarted on its database file, with runs in flight and
every-minute jobs: the API says 503 meanwhile (docs/api.md, "Errors"), nothing is lost or
doubled after."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from api.core.temporal import API_RPC_TIMEOUT
from domain.contract.names import RUN_WORKFLOW
from tests.faults.harness import (
    BASE,
    CountingAgent,
    Outcome,
    doubled_runs,
    log,
    running_fleet,
    until,
)

RUNS = 10
MINUTE_JOBS = 3
OUTAGE = 12.0
CLIENT_TIMEOUT = 15.0


def check_unavailable(answer: httpx.Response) -> str | None:
    """What is wrong with an answer given while Temporal is down, if anything."""
    if answer.status_code >= 500 and answer.status_code != 503:
        return f"{answer.request.method} {answer.request.url.path} → {answer.status_code}"
    if answer.status_code == 503:
        body = answer.json()
        if body.get("error") != "unavailable" or body.get("status") != 503 or not body["message"]:
            return f"503 without the error body: {answer.text}"
    elif answer.status_code not in (200, 201, 202):
        return f"{answer.request.method} {answer.request.url.path} → {answer.text}"
    return None


async def test_temporal_killed_and_restarted_on_its_database(
    tmp_path: Path, index_url: str, agent: CountingAgent
) -> None:
    agent.delay = 3.0
    outcome = Outcome("Temporal SIGKILLed + restarted", faults=1)
    async with (
        running_fleet(tmp_path, index_url, agent, tick_interval_seconds="5") as fleet,
        httpx.AsyncClient(timeout=CLIENT_TIMEOUT, headers={}) as http,
    ):
        minute_jobs = [
            await fleet.create_job(
                http, f"minutely {n}", {"type": "cron", "expression": "* * * * *"}
            )
            for n in range(MINUTE_JOBS)
        ]
        manual = await fleet.create_job(http, "manual", {"type": "cron", "expression": "0 0 1 1 *"})
        # The outage spans a minute boundary: that minute's fires are due while Temporal is away.
        now = datetime.now(UTC)
        kill_at = now.replace(second=48, microsecond=0)
        if now.second > 46:
            kill_at += timedelta(minutes=1)
        await asyncio.sleep((kill_at - now).total_seconds())
        missed_minute = kill_at.replace(second=0) + timedelta(minutes=1)
        run_ids = set(await asyncio.gather(*(fleet.trigger(http, manual) for _ in range(RUNS))))

        async def all_dispatched() -> bool:
            return agent.in_flight(run_ids) == RUNS

        await until(all_dispatched, "every run calling the agent", 30)
        fleet.kill_temporal()
        killed_at = datetime.now(UTC)
        log(f"Temporal killed with {RUNS} runs in flight")

        # Meanwhile: reads from the index answer, anything needing Temporal answers 503.
        answers: list[httpx.Response] = []
        slowest = 0.0
        outage_ends = time.monotonic() + OUTAGE
        probes = 0
        while time.monotonic() < outage_ends:
            started = time.monotonic()
            batch = await asyncio.gather(
                http.get(f"{fleet.api_url}{BASE}/jobs", headers=fleet.headers),
                http.post(
                    f"{fleet.api_url}{BASE}/jobs",
                    headers=fleet.headers,
                    json={
                        "name": "during outage",
                        "goal": "probe",
                        "agent_id": "probe",
                        "schedule": {"type": "cron", "expression": "0 0 1 1 *"},
                    },
                ),
                http.post(f"{fleet.api_url}{BASE}/jobs/{manual}/trigger", headers=fleet.headers),
                http.post(
                    f"{fleet.api_url}{BASE}/jobs/{minute_jobs[0]}/pause", headers=fleet.headers
                ),
                http.get(f"{fleet.api_url}{BASE}/jobs/{manual}/runs", headers=fleet.headers),
            )
            slowest = max(slowest, time.monotonic() - started)
            answers.extend(batch)
            probes += 1
            await asyncio.sleep(0.5)
        problems = [p for p in map(check_unavailable, answers) if p]
        codes = Counter(a.status_code for a in answers)
        # A 201/202 while Temporal was down would be a job or run Temporal never heard of.
        accepted_writes = [
            a for a in answers if a.request.method == "POST" and a.status_code in (201, 202)
        ]
        outcome.server_errors = sum(
            1 for a in answers if a.status_code >= 500 and a.status_code != 503
        )
        log(f"during the outage: {probes} probes, codes {dict(codes)}, slowest {slowest:.1f} s")

        await fleet.start_temporal()
        restarted_at = datetime.now(UTC)
        log("Temporal restarted on its database")

        async def in_flight_finished() -> bool:
            return fleet.finished(run_ids) == run_ids

        took = await until(in_flight_finished, "in-flight runs finished after the restart", 120)

        # Fires resume: the fire due during the outage runs after the restart (catch-up).
        assert killed_at < missed_minute < restarted_at, (killed_at, restarted_at)

        def fired_after() -> dict[str, list[dict[str, Any]]]:
            by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for run in fleet.runs():
                if run["job_id"] in minute_jobs and run["trigger"] == "schedule":
                    by_job[run["job_id"]].append(run)
            return by_job

        async def fires_resumed() -> bool:
            by_job = fired_after()
            return all(
                any(
                    r["scheduled_at"] == missed_minute and r["status"] != "running"
                    for r in by_job[job]
                )
                for job in minute_jobs
            )

        await until(fires_resumed, "the missed fire of every minutely job", 90)

        # The index ends as Temporal does: every run it finished is recorded finished (the tick
        # repairs what the recorder could not write while Temporal was away).
        client = await fleet.client()

        async def index_matches_temporal() -> bool:
            closed = {
                w.id
                async for w in client.list_workflows(
                    f'WorkflowType = "{RUN_WORKFLOW}" AND ExecutionStatus != "Running"'
                )
            }
            return closed <= fleet.finished(closed)

        await until(index_matches_temporal, "every run Temporal closed finished in the index", 60)
        stats = (await http.get(f"{fleet.api_url}{BASE}/stats", headers=fleet.headers)).json()

    runs = fleet.runs()
    minutes_missing = 0
    fires = 0
    for job in minute_jobs:
        scheduled = sorted(r["scheduled_at"] for r in runs if r["job_id"] == job)
        fires += len(scheduled)
        expected = int((scheduled[-1] - scheduled[0]).total_seconds() // 60) + 1
        minutes_missing += expected - len(set(scheduled))
    statuses = Counter(r["status"] for r in runs if r["id"] in run_ids)
    outcome.runs = RUNS + fires
    outcome.lost = RUNS - statuses["completed"] + minutes_missing
    outcome.doubled = doubled_runs(runs, agent)
    outcome.dispatches, outcome.executions = agent.totals()
    repairs = [line for line in fleet.log_text("worker-0").splitlines() if "tick repaired" in line]
    outcome.extra = {
        "outage_s": OUTAGE,
        "probes": len(answers),
        "codes": dict(codes),
        "slowest_probe_s": round(slowest, 1),
        "in_flight_done_after_restart_s": round(took, 1),
        "fires": fires,
        "tick_repairs": len(repairs),
        "killed_at": killed_at.strftime("%H:%M:%S"),
        "runs_today": stats["total_runs_today"],
    }
    log(outcome.report())
    for line in repairs:
        log(line)
    assert not problems, problems[:5]
    assert not accepted_writes, [a.text for a in accepted_writes]
    assert codes[503] > 0 and slowest < CLIENT_TIMEOUT
    assert outcome.lost == 0 and outcome.doubled == 0 and outcome.server_errors == 0, (
        outcome.report()
    )
    assert stats["total_runs_today"] == len(runs)


async def test_temporal_frozen_answers_503_within_the_call_deadline(
    tmp_path: Path, index_url: str, agent: CountingAgent
) -> None:
    """A Temporal that stops answering (SIGSTOP: a hung server, a partition dropping packets)
    costs each request at most the API's call deadline (API_RPC_TIMEOUT) per Temporal call."""
    outcome = Outcome("Temporal frozen (SIGSTOP)", faults=1)
    async with (
        running_fleet(tmp_path, index_url, agent) as fleet,
        httpx.AsyncClient(timeout=60) as http,
    ):
        job = await fleet.create_job(http, "frozen", {"type": "cron", "expression": "0 0 1 1 *"})
        assert fleet.temporal.process is not None
        os.killpg(fleet.temporal.process.pid, signal.SIGSTOP)
        try:
            calls = {
                "trigger": http.post(
                    f"{fleet.api_url}{BASE}/jobs/{job}/trigger", headers=fleet.headers
                ),
                "create": http.post(
                    f"{fleet.api_url}{BASE}/jobs",
                    headers=fleet.headers,
                    json={
                        "name": "frozen",
                        "goal": "probe",
                        "agent_id": "probe",
                        "schedule": {"type": "cron", "expression": "0 0 1 1 *"},
                    },
                ),
                "status": http.get(f"{fleet.api_url}{BASE}/status", headers=fleet.headers),
            }
            took: dict[str, float] = {}
            answers: dict[str, httpx.Response] = {}

            # One after the other: on SQLite the API's one index connection is held by a
            # request while it waits for Temporal, so concurrent ones would queue behind it.
            for name, call in calls.items():
                started = time.monotonic()
                answers[name] = await call
                took[name] = round(time.monotonic() - started, 1)
        finally:
            os.killpg(fleet.temporal.process.pid, signal.SIGCONT)

        async def recovered() -> bool:
            answer = await http.post(
                f"{fleet.api_url}{BASE}/jobs/{job}/trigger", headers=fleet.headers
            )
            return answer.status_code == 202

        await until(recovered, "a trigger accepted once Temporal answers again", 60)

    problems = {n: a.text for n, a in answers.items() if check_unavailable(a)}
    outcome.server_errors = sum(
        1 for a in answers.values() if a.status_code >= 500 and a.status_code != 503
    )
    outcome.extra = {
        "codes": {n: a.status_code for n, a in answers.items()},
        "seconds": took,
    }
    log(outcome.report())
    assert not problems, problems
    assert {n for n, a in answers.items() if a.status_code == 503} >= {"trigger", "create"}
    # Two Temporal calls at most per request, each within the deadline, plus slack.
    assert max(took.values()) < 2 * API_RPC_TIMEOUT.total_seconds() + 5, took
