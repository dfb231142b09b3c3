"""The tick (docs/api.md, `GET /api/scheduler/status`): drift made on purpose is repaired and
counted; one tick at a time."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col
from temporalio.client import Client, ScheduleOverlapPolicy, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer, Worker

from activities.runs import RunRecorder
from activities.tick import TickActivities
from api.core import metrics
from api.core.index.db import make_engine
from api.core.index.models import Job, Run, TickRecord
from api.core.schedules import ensure_tick_schedule, parse_schedule, tick_schedule_id
from api.core.settings import Settings
from domain.contract.tick import ReconcileInput, TickInput
from domain.schedules import next_fire_time
from tests.helpers.api import JOBS, Api, create
from tests.helpers.processes import CLI, clean_env, free_ports
from worker import WORKFLOWS
from workflows.tick import TickWorkflow

STATUS = "/api/scheduler/status"
HISTORIES = Path(__file__).parent / "histories"
INTERVAL = 2


@pytest.fixture
async def tick_settings(settings: Settings, temporal_client: Client) -> AsyncIterator[Settings]:
    """Settings with a 2-second tick; its schedule is removed after the test."""
    settings.tick_interval_seconds = INTERVAL
    yield settings
    try:
        await temporal_client.get_schedule_handle(tick_schedule_id(settings)).delete()
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND


async def status(api: Api, headers: dict[str, str]) -> dict[str, Any]:
    response = await api.http.get(STATUS, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def wait_for(check: Any, *, timeout: float = 45) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout}s")
        await asyncio.sleep(0.25)


async def schedule_exists(client: Client, schedule_id: str) -> bool:
    try:
        await client.get_schedule_handle(schedule_id).describe()
        return True
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND
        return False


async def wait_run_done(api: Api, headers: dict[str, str], job_id: str, run_id: str) -> None:
    async def done() -> bool:
        response = await api.http.get(f"{JOBS}/{job_id}/runs/{run_id}", headers=headers)
        return response.status_code == 200 and response.json()["status"] == "completed"

    await wait_for(done, timeout=30)


async def test_status_without_a_worker_is_not_running(api: Api) -> None:
    alice = await api.headers("alice")
    body = await status(api, alice)
    assert body["running"] is False and body["workers"] == []
    assert body["temporal"]["reachable"] is True
    assert body["temporal"]["namespace"] == "default"
    assert body["tick_interval_seconds"] == 0  # disabled in these tests' settings
    assert body["last_tick_at"] is None and body["next_tick_at"] is None
    assert body["jobs_checked_last_tick"] is None and body["repairs_last_24h"] == {}
    assert (await api.http.get(STATUS)).status_code == 401


async def test_each_kind_of_drift_is_repaired_by_the_next_tick_and_counted(
    tick_settings: Settings, api: Api, worker: Worker, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    # Far from firing, so no next_run_at goes stale by itself during the test.
    yearly = {"type": "cron", "expression": "0 8 1 1 *", "timezone": "America/New_York"}
    lost_schedule = await create(api, alice, name="schedule deleted", schedule=yearly)
    lost_row = await create(api, alice, name="index row deleted", schedule=yearly)
    ran = await create(api, alice, name="runs not recorded", schedule=yearly)
    paused = await create(api, alice, name="schedule paused behind the API", schedule=yearly)
    runs = []
    for _ in range(2):
        response = await api.http.post(f"{JOBS}/{ran['id']}/trigger", headers=alice)
        runs.append(response.json()["run_id"])
    for run_id in runs:
        await wait_run_done(api, alice, ran["id"], run_id)

    # The tick runs on its own schedule and finds nothing to repair yet.
    ready = datetime.now(UTC)
    # The stale next_run_at is refreshed too, but that is upkeep, counted apart (below).
    expected = {
        "orphan_schedules_deleted": 1,
        "runs_recorded": 2,
        "schedules_recreated": 1,
        "schedules_resynced": 1,
    }
    first = await wait_for(lambda: _ticked(api, alice, after=ready))
    assert first["running"] is True and first["workers"]
    assert first["tick_interval_seconds"] == INTERVAL and first["repairs_last_24h"] == {}
    assert first["jobs_checked_last_tick"] == 4
    assert datetime.fromisoformat(first["next_tick_at"]) > datetime.fromisoformat(
        first["last_tick_at"]
    )

    def repairs_counted() -> dict[str, float]:
        """The worker's agent_scheduler_tick_repairs_total (docs/operations.md, "Metrics")."""
        name = "agent_scheduler_tick_repairs_total"
        return {k: metrics.WORKER.get_sample_value(name, {"kind": k}) or 0 for k in expected}

    counted_before = repairs_counted()
    # Break the agreement, each in its own way.
    await temporal_client.get_schedule_handle(lost_schedule["id"]).delete()
    await temporal_client.get_schedule_handle(paused["id"]).pause(note="behind the API")
    async with api.state.sessions() as session:
        await session.execute(sa.delete(Job).where(Job.id == lost_row["id"]))
        # One run's end was never recorded, the other run was lost entirely (as after a crash
        # that lost the last commits): the job's counters lost them too.
        await session.execute(
            sa.update(Run)
            .where(Run.id == runs[0])
            .values(status="running", completed_at=None, duration_seconds=None, output=None)
        )
        await session.execute(sa.delete(Run).where(Run.id == runs[1]))
        await session.execute(
            sa.update(Job)
            .where(Job.id == ran["id"])
            .values(run_count=0, last_run_at=None, next_run_at=datetime(2000, 1, 1, tzinfo=UTC))
        )
        await session.commit()
    broken_at = datetime.now(UTC)

    async def repaired() -> dict[str, Any] | None:
        body = await status(api, alice)
        return body if body["repairs_last_24h"] == dict(sorted(expected.items())) else None

    after = await wait_for(repaired)
    assert datetime.fromisoformat(after["last_tick_at"]) > broken_at
    counted = repairs_counted()
    assert {k: counted[k] - counted_before[k] for k in expected} == expected
    assert after["jobs_checked_last_tick"] == 3

    description = await temporal_client.get_schedule_handle(lost_schedule["id"]).describe()
    # Rebuilt from the job: it fires when the job says it will.
    assert description.schedule.spec.time_zone_name == "America/New_York"
    job_now = (await api.http.get(f"{JOBS}/{lost_schedule['id']}", headers=alice)).json()
    assert description.info.next_action_times[0] == datetime.fromisoformat(job_now["next_run_at"])
    assert not await schedule_exists(temporal_client, lost_row["id"])
    resumed = await temporal_client.get_schedule_handle(paused["id"]).describe()
    assert resumed.schedule.state.paused is False
    for run_id in runs:
        run = (await api.http.get(f"{JOBS}/{ran['id']}/runs/{run_id}", headers=alice)).json()
        assert run["status"] == "completed" and run["output"] == "Summarize today's activity"
        assert run["completed_at"] is not None and run["temporal"]["run_id"]
    async with api.state.sessions() as session:
        job = await session.get(Job, ran["id"])
        assert job is not None and job.run_count == 2
        assert job.next_run_at == next_fire_time(
            parse_schedule(job.schedule), after=datetime.now(UTC) - timedelta(minutes=1)
        )
        refreshed = (
            await session.execute(
                sa.select(sa.func.sum(TickRecord.next_run_at_refreshed)).where(
                    col(TickRecord.started_at) > broken_at
                )
            )
        ).scalar_one()
        assert refreshed == 1
    # Later ticks find nothing more to do: the next one to finish (a loaded machine may take
    # longer than an interval for it) repairs nothing, and the totals stay.
    repairing_tick = datetime.fromisoformat(after["last_tick_at"])
    final = await wait_for(lambda: _ticked(api, alice, after=repairing_tick))
    assert final["repairs_last_24h"] == dict(sorted(expected.items()))
    assert final["last_tick"]["repairs"] == {}


async def _ticked(api: Api, headers: dict[str, str], *, after: datetime) -> dict[str, Any] | None:
    body = await status(api, headers)
    last = body["last_tick_at"]
    return body if last and datetime.fromisoformat(last) > after else None


@asynccontextmanager
async def api_process(settings: Settings, log: Path) -> AsyncIterator[str]:
    """``agent-scheduler api`` in a process of its own on ``settings``' Temporal, queue and
    index; yields its base URL once it answers, and stops it with SIGTERM (exit 0)."""
    (port,) = free_ports(1)
    env = clean_env() | {
        "AGENT_SCHEDULER_TEMPORAL_ADDRESS": settings.temporal_address,
        "AGENT_SCHEDULER_TASK_QUEUE": settings.task_queue,
        "AGENT_SCHEDULER_DATABASE_URL": settings.resolved_database_url,
        "AGENT_SCHEDULER_DATA_DIR": str(settings.data_dir),
        "AGENT_SCHEDULER_TICK_INTERVAL_SECONDS": str(settings.tick_interval_seconds),
        "AGENT_SCHEDULER_PORT": str(port),
    }
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            CLI, "api", stdout=out, stderr=out, stdin=asyncio.subprocess.DEVNULL, env=env
        )
    try:
        async with httpx.AsyncClient(base_url=base) as http:

            async def healthy() -> bool:
                assert process.returncode is None, log.read_text()[-3000:]
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await wait_for(healthy, timeout=30)
        yield base
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 15) == 0, log.read_text()[-3000:]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_two_api_processes_share_one_schedule_and_ticks_never_overlap(
    tick_settings: Settings, api: Api, worker: Worker, temporal_client: Client, tmp_path: Path
) -> None:
    prefix = tick_schedule_id(tick_settings)
    handle = temporal_client.get_schedule_handle(prefix)
    # The in-process API and the worker ensured the schedule as they started; pause it behind
    # their backs so that the second process's own ensure shows: only it can resume it now.
    await wait_for(lambda: schedule_exists(temporal_client, prefix))
    await handle.pause(note="until the second API starts")
    async with api_process(tick_settings, tmp_path / "api.log") as base:

        async def resumed() -> bool:
            return not (await handle.describe()).schedule.state.paused

        await wait_for(resumed, timeout=20)
        # Both (and the worker) ensure the schedule, also at the same time: still one.
        await asyncio.gather(
            ensure_tick_schedule(temporal_client, tick_settings),
            ensure_tick_schedule(temporal_client, tick_settings),
        )
        description = await handle.describe()
        assert description.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
        assert [i.every for i in description.schedule.spec.intervals] == [
            timedelta(seconds=INTERVAL)
        ]

        async def ours() -> list[str] | None:
            ids = [s.id async for s in await temporal_client.list_schedules()]
            found = sorted(i for i in ids if i.startswith(tick_settings.task_queue))
            return found or None

        assert await wait_for(ours) == [prefix]
        alice = await api.headers("alice")

        async def three_ticks() -> bool:
            async with api.state.sessions() as session:
                count = await session.execute(sa.select(sa.func.count()).select_from(TickRecord))
                return int(count.scalar_one()) >= 3

        await wait_for(three_ticks, timeout=30)
        # Ask for more ticks at once: Temporal skips while one runs.
        await asyncio.gather(*(handle.trigger() for _ in range(4)))
        await asyncio.sleep(INTERVAL + 1)
        async with httpx.AsyncClient(base_url=base, headers=alice) as http:
            response = await http.get(STATUS)
            assert response.status_code == 200, response.text
            # Read in this order: the second process's answer, then the in-process one's.
            seen_by_both = [response.json(), await status(api, alice)]
        for body in seen_by_both:
            assert body["running"] is True and body["tick_interval_seconds"] == INTERVAL
            assert body["last_tick_at"]
        # Both read the last tick from the same index: the later read sees the same one, or one
        # that started since.
        first, second = (datetime.fromisoformat(b["last_tick_at"]) for b in seen_by_both)
        assert second >= first

    executions = [
        await temporal_client.get_workflow_handle(w.id, run_id=w.run_id).describe()
        async for w in temporal_client.list_workflows(f'WorkflowId STARTS_WITH "{prefix}"')
    ]
    closed = sorted(
        (e.start_time, e.close_time or datetime.max.replace(tzinfo=UTC)) for e in executions
    )
    assert len(closed) >= 3
    for (_, end), (start, _) in zip(closed, closed[1:], strict=False):
        assert end <= start, "two ticks ran at the same time"
    async with api.state.sessions() as session:
        rows = (
            await session.execute(sa.select(TickRecord).order_by(TickRecord.started_at))  # type: ignore[arg-type]
        ).scalars()
        ticks = list(rows)
    assert len(ticks) >= 3
    for earlier, later in zip(ticks, ticks[1:], strict=False):
        assert earlier.finished_at <= later.started_at
    # A schedule with other settings is brought to the new interval, not duplicated.
    tick_settings.tick_interval_seconds = 5
    await ensure_tick_schedule(temporal_client, tick_settings)
    description = await temporal_client.get_schedule_handle(prefix).describe()
    assert [i.every for i in description.schedule.spec.intervals] == [timedelta(seconds=5)]


async def test_tick_workflow_replays_recorded_and_fresh_histories(
    api: Api, worker: Worker, temporal_client: Client, settings: Settings
) -> None:
    handle = await temporal_client.start_workflow(
        TickWorkflow.run,
        TickInput(grace_seconds=0),
        id=f"{settings.task_queue}-tick-replay",
        task_queue=settings.task_queue,
    )
    result = await handle.result()
    assert result.jobs_checked == 0 and result.repairs == {}
    fresh = await handle.fetch_history()
    if os.environ.get("AGENT_SCHEDULER_RECORD_HISTORIES"):
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / "tick.json").write_text(fresh.to_json())
    recorded = WorkflowHistory.from_json("tick", (HISTORIES / "tick.json").read_text())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    for history in (fresh, recorded):
        await replayer.replay_workflow(history)


async def test_a_run_the_worker_recorded_is_not_counted_as_repaired(
    api: Api, worker: Worker, temporal_client: Client, settings: Settings
) -> None:
    """A race once seen: the tick read a ``running`` row, the worker recorded the run's end
    and the workflow closed, then the tick described it closed. Its write changes nothing, so
    it is no repair; a run whose end really is missing still is."""
    alice = await api.headers("alice")
    yearly = {"type": "cron", "expression": "0 8 1 1 *", "timezone": "UTC"}
    job = await create(api, alice, schedule=yearly)
    by_worker, unrecorded = [
        (await api.http.post(f"{JOBS}/{job['id']}/trigger", headers=alice)).json()["run_id"]
        for _ in range(2)
    ]
    for run_id in (by_worker, unrecorded):
        await wait_run_done(api, alice, job["id"], run_id)
    async with api.state.sessions() as session:
        await session.execute(
            sa.update(Run).where(Run.id == unrecorded).values(status="running", completed_at=None)
        )
        # Its end never reached the job's counters either.
        await session.execute(sa.update(Job).where(Job.id == job["id"]).values(run_count=1))
        await session.commit()
    engine = make_engine(settings.resolved_database_url)
    tick = TickActivities(
        engine, temporal_client, settings, recorder=RunRecorder(engine, temporal_client)
    )
    env = ActivityEnvironment()
    now = datetime.now(UTC)
    try:
        assert await env.run(tick._record_if_closed, by_worker, now) is None
        assert await env.run(tick._record_if_closed, unrecorded, now) == "runs_recorded"
        assert await env.run(tick._record_if_closed, unrecorded, now) is None  # done now
        # A whole tick over an index that is current repairs (and logs) nothing.
        result = await env.run(tick.reconcile, ReconcileInput(workflow_id="t", grace_seconds=0))
    finally:
        await engine.dispose()
    assert result.repairs == {} and result.runs_checked >= 2
    for run_id in (by_worker, unrecorded):
        run = (await api.http.get(f"{JOBS}/{job['id']}/runs/{run_id}", headers=alice)).json()
        assert run["status"] == "completed"
    async with api.state.sessions() as session:
        row = await session.get(Job, job["id"])
        assert row is not None and row.run_count == 2  # the tick's write counted nothing twice


async def test_tick_logs_a_repair_only_when_one_happened(
    api: Api,
    worker: Worker,
    temporal_client: Client,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = await api.headers("alice")
    yearly = {"type": "cron", "expression": "0 8 1 1 *", "timezone": "UTC"}
    job = await create(api, alice, schedule=yearly)
    run_id = (await api.http.post(f"{JOBS}/{job['id']}/trigger", headers=alice)).json()["run_id"]
    await wait_run_done(api, alice, job["id"], run_id)
    engine = make_engine(settings.resolved_database_url)
    tick = TickActivities(
        engine, temporal_client, settings, recorder=RunRecorder(engine, temporal_client)
    )
    env = ActivityEnvironment()
    caplog.set_level("INFO", logger="activities.tick")
    try:
        quiet = await env.run(tick.reconcile, ReconcileInput(workflow_id="t1", grace_seconds=0))
        assert quiet.repairs == {} and quiet.next_run_at_refreshed == 0
        assert not [r for r in caplog.records if r.name == "activities.tick"]
        # A stale next fire is refreshed and recorded apart, not logged or counted as a repair.
        async with api.state.sessions() as session:
            await session.execute(
                sa.update(Job)
                .where(Job.id == job["id"])
                .values(next_run_at=datetime(2000, 1, 1, tzinfo=UTC))
            )
            await session.commit()
        upkeep = await env.run(tick.reconcile, ReconcileInput(workflow_id="t2", grace_seconds=0))
        assert upkeep.repairs == {} and upkeep.next_run_at_refreshed == 1
        assert not [r for r in caplog.records if r.name == "activities.tick"]
        # A real repair is logged, once, with only what was repaired.
        async with api.state.sessions() as session:
            await session.execute(
                sa.update(Run).where(Run.id == run_id).values(status="running", completed_at=None)
            )
            await session.execute(sa.update(Job).where(Job.id == job["id"]).values(run_count=0))
            await session.commit()
        repaired = await env.run(tick.reconcile, ReconcileInput(workflow_id="t3", grace_seconds=0))
    finally:
        await engine.dispose()
    assert repaired.repairs == {"runs_recorded": 1}
    lines = [r.getMessage() for r in caplog.records if r.name == "activities.tick"]
    assert lines == ["tick repaired {'runs_recorded': 1}"]
    async with api.state.sessions() as session:
        stored = (
            await session.execute(sa.select(TickRecord).order_by(col(TickRecord.started_at)))
        ).scalars()
        assert [(t.repairs, t.next_run_at_refreshed) for t in stored] == [
            ({}, 0),
            ({}, 1),
            ({"runs_recorded": 1}, 0),
        ]
    body = await status(api, alice)
    assert body["repairs_last_24h"] == {"runs_recorded": 1}
