"""The index database down ~30 s with runs in flight (a PostgreSQL cluster of the test's own):
the API says 503 meanwhile; afterwards every run Temporal finished is recorded, once."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.deadline import REQUEST_DEADLINE_SECONDS
from domain.contract.names import RUN_WORKFLOW
from tests.faults.harness import (
    BASE,
    CountingAgent,
    Outcome,
    PostgresCluster,
    doubled_runs,
    log,
    running_fleet,
    until,
)

RUNS = 15
OUTAGE = 30.0
CLIENT_TIMEOUT = 15.0


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    """A started cluster of this test's own, removed afterwards."""
    made = PostgresCluster()
    reason = made.unavailable()
    if reason:
        pytest.skip(reason)
    try:
        made.init()
        made.start()
        yield made
    finally:
        made.destroy()


async def test_index_down_with_runs_in_flight(
    tmp_path: Path, cluster: PostgresCluster, agent: CountingAgent
) -> None:
    agent.delay = 3.0
    outcome = Outcome("index PostgreSQL down 30 s", faults=1)
    async with (
        running_fleet(tmp_path, cluster.url, agent) as fleet,
        httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as http,
    ):
        job_id = await fleet.create_job(
            http, "in flight", {"type": "cron", "expression": "0 0 1 1 *"}
        )
        run_ids = set(await asyncio.gather(*(fleet.trigger(http, job_id) for _ in range(RUNS))))
        outcome.runs = RUNS

        async def all_dispatched() -> bool:
            return agent.in_flight(run_ids) == RUNS

        await until(all_dispatched, "every run calling the agent", 30)
        cluster.stop()
        log(f"index stopped with {RUNS} runs in flight")
        run_id = next(iter(run_ids))
        answers: list[httpx.Response] = []
        slowest = 0.0
        outage_ends = time.monotonic() + OUTAGE
        while time.monotonic() < outage_ends:
            started = time.monotonic()
            answers += await asyncio.gather(
                http.get(f"{fleet.api_url}{BASE}/jobs", headers=fleet.headers),
                http.post(f"{fleet.api_url}{BASE}/jobs/{job_id}/trigger", headers=fleet.headers),
                http.get(
                    f"{fleet.api_url}{BASE}/jobs/{job_id}/runs/{run_id}", headers=fleet.headers
                ),
                http.get(f"{fleet.api_url}{BASE}/stats", headers=fleet.headers),
            )
            slowest = max(slowest, time.monotonic() - started)
            await asyncio.sleep(1)
        codes = Counter(a.status_code for a in answers)
        bad_bodies = [
            a.text
            for a in answers
            if a.status_code == 503
            and (a.json().get("error"), a.json().get("status")) != ("unavailable", 503)
        ]
        log(
            f"during the outage: {len(answers)} requests, codes {dict(codes)}, "
            f"slowest {slowest:.1f} s"
        )
        cluster.start()
        log("index started again")

        async def all_recorded() -> bool:
            try:
                return fleet.finished(run_ids) == run_ids
            except Exception:  # noqa: BLE001 - the cluster is still starting
                return False

        took = await until(all_recorded, "every run recorded after the index came back", 150)
        client = await fleet.client()
        closed = {
            w.id
            async for w in client.list_workflows(
                f'WorkflowType = "{RUN_WORKFLOW}" AND ExecutionStatus != "Running"'
            )
        }
        stats = (await http.get(f"{fleet.api_url}{BASE}/stats", headers=fleet.headers)).json()
        job_stats = (
            await http.get(f"{fleet.api_url}{BASE}/jobs/{job_id}/stats", headers=fleet.headers)
        ).json()
        job = (await http.get(f"{fleet.api_url}{BASE}/jobs/{job_id}", headers=fleet.headers)).json()

    runs = fleet.runs()
    statuses = Counter(r["status"] for r in runs if r["id"] in run_ids)
    outcome.lost = RUNS - statuses["completed"] + len(closed - fleet.finished(closed))
    outcome.doubled = doubled_runs(runs, agent)
    outcome.server_errors = sum(1 for a in answers if a.status_code >= 500 and a.status_code != 503)
    outcome.dispatches, outcome.executions = agent.totals()
    outcome.extra = {
        "outage_s": OUTAGE,
        "requests": len(answers),
        "codes": dict(codes),
        "slowest_s": round(slowest, 1),
        "recorded_after_restart_s": round(took, 1),
        "temporal_closed": len(closed),
        "stats_runs_today": stats["total_runs_today"],
        "job_total_runs": job_stats["total_runs"],
        "job_run_count": job["run_count"],
    }
    log(outcome.report())
    assert codes == Counter({503: len(answers)}), dict(codes)
    assert not bad_bodies, bad_bodies[:3]
    assert slowest < CLIENT_TIMEOUT
    assert outcome.lost == 0 and outcome.doubled == 0, outcome.report()
    # Counted once: /stats, the job's stats and its counter agree with the runs that exist.
    assert len(runs) == RUNS == len(closed)
    assert stats["total_runs_today"] == job_stats["total_runs"] == job["run_count"] == RUNS
    assert job_stats["runs_by_status"] == {"completed": RUNS}


async def test_index_frozen_answers_503_within_the_request_deadline(
    tmp_path: Path, cluster: PostgresCluster, agent: CountingAgent
) -> None:
    """An index that stops answering but keeps its connections open (SIGSTOP): requests end
    with a 503 after the request deadline instead of hanging, and the API recovers after."""
    outcome = Outcome("index PostgreSQL frozen (SIGSTOP)", faults=1)
    async with (
        running_fleet(tmp_path, cluster.url, agent) as fleet,
        httpx.AsyncClient(timeout=120) as http,
    ):
        job_id = await fleet.create_job(http, "frozen", {"type": "cron", "expression": "0 0 1 1 *"})
        cluster.freeze(signal.SIGSTOP)
        try:
            started = time.monotonic()
            answers = await asyncio.gather(
                http.get(f"{fleet.api_url}{BASE}/jobs", headers=fleet.headers),
                http.post(f"{fleet.api_url}{BASE}/jobs/{job_id}/trigger", headers=fleet.headers),
                http.get(f"{fleet.api_url}{BASE}/stats", headers=fleet.headers),
            )
            took = time.monotonic() - started
        finally:
            cluster.freeze(signal.SIGCONT)

        async def recovered() -> bool:
            answer = await http.get(f"{fleet.api_url}{BASE}/jobs", headers=fleet.headers)
            return answer.status_code == 200

        await until(recovered, "the API answering again", 60)
        run_id = await fleet.trigger(http, job_id)

        async def finished() -> bool:
            return fleet.finished({run_id}) == {run_id}

        await until(finished, "a run after the index came back", 60)
        after = next(r for r in fleet.runs() if r["id"] == run_id)

    outcome.runs = 1
    outcome.lost = int(after["status"] != "completed")
    outcome.dispatches, outcome.executions = agent.totals()
    outcome.server_errors = sum(1 for a in answers if a.status_code >= 500 and a.status_code != 503)
    outcome.extra = {"codes": [a.status_code for a in answers], "answered_after_s": round(took, 1)}
    log(outcome.report())
    assert [a.status_code for a in answers] == [503, 503, 503], [a.text for a in answers]
    assert all(a.json()["error"] == "unavailable" for a in answers)
    # The deadline (30 s), then at most psycopg's cancel of the stuck query (5 s + 5 s).
    assert took < REQUEST_DEADLINE_SECONDS + 15, took
    assert outcome.lost == 0, after
