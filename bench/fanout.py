"""Fan-out: N jobs due at the same minute through the whole product, next to N bare Temporal
schedules that each start a one-activity workflow.

    .venv/bin/python bench/fanout.py [--jobs 300] [--dynamic-config KEY=VALUE ...]

Each side gets a fresh Temporal dev server started as ``agent-scheduler dev`` starts it (on-disk
SQLite, the dev's dynamic config, plus any ``--dynamic-config`` given, on both), and has the
machine to itself: ours runs first (API over ASGI, the worker and the index in this process, the
tick on), then its server is stopped and the bare side runs on the second one (N
``* * * * *`` schedules, a worker in this process). Per side it reports the fires
of the measured minute that started, their start lag (workflow start − nominal time) p50/p95/max,
and when the last one was seen finished: recorded completed in the index (ours) or closed in
Temporal's visibility (bare), measured from the nominal minute.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
)
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import create_app
from api.cli.devserver import DYNAMIC_CONFIG, dynamic_config_args, sqlite_pragma_args
from api.core.index.keys import create_key
from api.core.index.models import runs as runs_table
from api.core.settings import Settings
from api.core.temporal import packaged_binary
from bench.bare_workflow import BareWorkflow, bare_echo
from domain import search_attributes
from domain.contract.names import RUN_WORKFLOW
from worker import running_worker

SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
EVERY_MINUTE = "* * * * *"
WAIT_LIMIT = 240.0  # seconds after the minute before a side is declared incomplete


@dataclass
class Side:
    """What one side did with the fires of the measured minute."""

    name: str
    jobs: int
    lags: list[float]
    last_finished: float | None  # seconds after the minute; None: not all finished in time
    picked_up: list[float]  # seconds after the minute each run's first workflow task started

    def row(self) -> str:
        lags = sorted(self.lags)
        p95 = lags[max(0, round(0.95 * len(lags)) - 1)] if lags else float("nan")
        last = f"{self.last_finished:8.1f}" if self.last_finished is not None else "  (none)"
        return (
            f"{self.name:<16} {len(lags):>5}/{self.jobs:<5} "
            f"{statistics.median(lags) if lags else float('nan'):>7.1f} {p95:>7.1f} "
            f"{max(lags, default=float('nan')):>7.1f} {last}"
        )

    @property
    def p95(self) -> float:
        lags = sorted(self.lags)
        return lags[max(0, round(0.95 * len(lags)) - 1)]


def deciles(values: list[float]) -> str:
    """The nine deciles of ``values``, for the shape of a distribution."""
    ordered = sorted(values)
    if not ordered:
        return "(none)"
    picks = [ordered[min(len(ordered) - 1, len(ordered) * k // 10)] for k in range(1, 10)]
    return " ".join(f"{value:.1f}" for value in picks)


def next_minute(margin: float) -> datetime:
    """The first whole minute at least ``margin`` seconds away."""
    at = datetime.now(UTC) + timedelta(seconds=margin + 60)
    return at.replace(second=0, microsecond=0)


async def sleep_until(at: datetime) -> None:
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


async def start_server(
    config: dict[str, object], data: Path, server_args: list[str]
) -> WorkflowEnvironment:
    """A dev server as ``agent-scheduler dev`` runs it: on-disk SQLite, the dev's dynamic
    config with ``config`` on top, then ``server_args``."""
    extra = ["--db-filename", str(data / f"temporal-{uuid.uuid4().hex[:8]}.db")]
    extra += sqlite_pragma_args() + server_args
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=packaged_binary("temporal"),
        search_attributes=search_attributes.ALL,
        data_converter=pydantic_data_converter,
        dev_server_extra_args=extra + dynamic_config_args(DYNAMIC_CONFIG | config),
    )


async def ours(env: WorkflowEnvironment, jobs: int, data: Path) -> Side:
    """N echo jobs on ``* * * * *`` through the product; lags from the runs in the index."""
    settings = Settings(
        data_dir=data,
        temporal_address=env.client.service_client.config.target_host,
        task_queue=f"fanout-{uuid.uuid4().hex[:8]}",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), running_worker(env.client, settings):
        state = app.state.app
        async with state.sessions() as session:
            _, key = await create_key(session, owner="bench")
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            gate = asyncio.Semaphore(10)

            async def create(n: int) -> None:
                body = {
                    "name": f"fan-out {n}",
                    "goal": "hello",
                    "agent_id": "echo",
                    "schedule": {"type": "cron", "expression": EVERY_MINUTE},
                }
                async with gate:
                    response = await http.post("/api/scheduler/jobs", headers=headers, json=body)
                    response.raise_for_status()

            await asyncio.gather(*(create(n) for n in range(jobs)))
            # One triggered run first, so the worker's one-time start-up (its first sandbox)
            # is not counted in the minute; the bare side does the same.
            listed = await http.get("/api/scheduler/jobs?limit=1", headers=headers)
            job_id = listed.json()["jobs"][0]["id"]
            trigger = await http.post(f"/api/scheduler/jobs/{job_id}/trigger", headers=headers)
            run_url = f"/api/scheduler/jobs/{job_id}/runs/{trigger.json()['run_id']}"
            while True:
                run = await http.get(run_url, headers=headers)
                run.raise_for_status()
                if run.json()["status"] == "completed":
                    break
                await asyncio.sleep(0.1)
        minute = next_minute(margin=5)
        print(f"ours: {jobs} jobs created; measuring the fires of {minute:%H:%M:%S}", flush=True)
        await sleep_until(minute)
        columns = runs_table.c
        query = sa.select(columns.completed_at).where(columns.scheduled_at == minute)
        while True:
            async with state.sessions() as session:
                rows = (await session.execute(query)).all()
            seen = (datetime.now(UTC) - minute).total_seconds()
            done = sum(1 for row in rows if row.completed_at is not None)
            if done >= jobs or seen > WAIT_LIMIT:
                break
            await asyncio.sleep(0.25)
        lags, picked = await start_lags(env.client, f"TaskQueue = '{settings.task_queue}'", minute)
        return Side("agent-scheduler", jobs, lags, seen if done >= jobs else None, picked)


async def start_lags(
    client: Client, query: str, minute: datetime
) -> tuple[list[float], list[float]]:
    """Of each run workflow of ``minute``'s fires, the same measures for both sides: start
    lag (execution start in Temporal's visibility − the nominal time) and pickup lag (the
    first workflow task's start in its history − the nominal time: when a worker took it)."""
    query += f" AND WorkflowType IN ('{RUN_WORKFLOW}', '{BareWorkflow.__name__}')"
    runs = [
        w
        async for w in client.list_workflows(query)
        if w.typed_search_attributes.get(SCHEDULED_START) == minute
    ]
    gate = asyncio.Semaphore(10)

    async def picked_up(workflow_id: str, run_id: str | None) -> float:
        async with gate:
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
            async for event in handle.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                    return (event.event_time.ToDatetime(UTC) - minute).total_seconds()
        return float("nan")

    pickups = await asyncio.gather(*(picked_up(w.id, w.run_id) for w in runs))
    return [(w.start_time - minute).total_seconds() for w in runs], list(pickups)


async def bare(env: WorkflowEnvironment, jobs: int) -> Side:
    """N bare schedules on ``* * * * *``; lags and closes from Temporal's visibility."""
    client: Client = env.client
    queue = f"bare-fanout-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[BareWorkflow], activities=[bare_echo]):
        gate = asyncio.Semaphore(10)

        async def create(n: int) -> None:
            schedule = Schedule(
                action=ScheduleActionStartWorkflow(
                    BareWorkflow.run, f"goal {n}", id=f"bare-{n}", task_queue=queue
                ),
                spec=ScheduleSpec(cron_expressions=[EVERY_MINUTE]),
            )
            async with gate:
                await client.create_schedule(f"bare-{queue}-{n}", schedule)

        await asyncio.gather(*(create(n) for n in range(jobs)))
        await client.execute_workflow(
            BareWorkflow.run, "warm-up", id=f"bare-warm-up-{queue}", task_queue=queue
        )
        minute = next_minute(margin=5)
        print(f"bare: {jobs} schedules created; measuring {minute:%H:%M:%S}", flush=True)
        await sleep_until(minute)
        query = f"TaskQueue = '{queue}'"
        while True:
            runs = [
                w
                async for w in client.list_workflows(query)
                if w.typed_search_attributes.get(SCHEDULED_START) == minute
            ]
            seen = (datetime.now(UTC) - minute).total_seconds()
            done = sum(1 for w in runs if w.close_time is not None)
            if done >= jobs or seen > WAIT_LIMIT:
                break
            await asyncio.sleep(0.25)
    lags, picked = await start_lags(client, query, minute)
    return Side("bare Temporal", jobs, lags, seen if done >= jobs else None, picked)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument(
        "--dynamic-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a dynamic config value for both dev servers (repeatable)",
    )
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an extra `temporal server start-dev` argument for both servers (repeatable), "
        "e.g. --server-arg=--sqlite-pragma=synchronous=off",
    )
    parser.add_argument("--side", choices=["both", "ours", "bare"], default="both")
    args = parser.parse_args()
    config: dict[str, object] = dict(value.split("=", 1) for value in args.dynamic_config)
    started = time.perf_counter()
    sides: list[Side] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        for name in ("ours", "bare"):
            if args.side not in ("both", name):
                continue
            env = await start_server(config, data, args.server_arg)
            try:
                if name == "ours":
                    sides.append(await ours(env, args.jobs, data))
                else:
                    sides.append(await bare(env, args.jobs))
            finally:
                await env.shutdown()
    shown = ", ".join(f"{k}={v}" for k, v in (DYNAMIC_CONFIG | config).items())
    print(f"\njobs={args.jobs}, dynamic config: {shown}; server args: {args.server_arg}")
    print(f"{'side':<16} {'started':>11} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'last s':>8}")
    for side in reversed(sides):
        print(side.row())
    for side in reversed(sides):
        print(f"{side.name} start lag deciles (s): {deciles(side.lags)}")
        print(f"{side.name} worker pickup lag deciles (s): {deciles(side.picked_up)}")
    if len(sides) == 2:
        our, base = sides
        if our.lags and base.lags:
            print(f"p95 ratio (ours / bare): {our.p95 / base.p95:.2f}")
        if our.last_finished and base.last_finished:
            ratio = our.last_finished / base.last_finished
            print(f"last finished ratio (ours / bare): {ratio:.2f}")
    print(f"(the whole run took {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    asyncio.run(main())
