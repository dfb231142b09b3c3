"""Runs/s of triggered echo-agent jobs end to end, next to a bare one-activity workflow.

    .venv/bin/python bench/runs.py [--runs 300] [--rounds 3] [--concurrency 30]

Both sides run on one fresh Temporal dev server, one worker process (this one), same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, func, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import create_app
from api.core.index.keys import create_key
from api.core.index.models import Run
from api.core.settings import Settings
from api.core.temporal import packaged_binary
from bench import bare_workflow as bare_workflow_module
from bench.bare_workflow import BareWorkflow, bare_echo
from domain import search_attributes
from worker import running_worker


async def bounded(concurrency: int, jobs: list, fn) -> None:  # type: ignore[no-untyped-def]
    gate = asyncio.Semaphore(concurrency)

    async def one(item):  # type: ignore[no-untyped-def]
        async with gate:
            await fn(item)

    await asyncio.gather(*(one(item) for item in jobs))


async def bare(client: Client, runs: int, concurrency: int) -> float:
    queue = f"bare-{uuid.uuid4().hex}"
    async with Worker(client, task_queue=queue, workflows=[BareWorkflow], activities=[bare_echo]):
        started = time.perf_counter()

        async def one(i: int) -> None:
            await client.execute_workflow(
                BareWorkflow.run, f"goal {i}", id=f"bare-{uuid.uuid4().hex}", task_queue=queue
            )

        await bounded(concurrency, list(range(runs)), one)
        return runs / (time.perf_counter() - started)


@dataclass
class Stack:
    """Our stack while it runs: a runs/s measurement, and the API as a client reaches it."""

    measure: Callable[[int], Awaitable[float]]
    http: httpx.AsyncClient
    headers: dict[str, str]


@asynccontextmanager
async def ours(
    client: Client,
    address: str,
    data: Path,
    concurrency: int,
    database_url: str | None,
    one_hop: bool,
    **more: Any,
) -> AsyncIterator[Stack]:
    """Our stack (API in-process over ASGI, worker, index) with settings ``more``."""
    settings = Settings(
        data_dir=data,
        database_url=database_url,
        temporal_address=address,
        task_queue=f"ours-{uuid.uuid4().hex}",
        # As `agent-scheduler dev` runs the SQLite index; --stock-sqlite measures without it.
        sqlite_one_hop=one_hop,
        **more,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), running_worker(client, settings):
        state = app.state.app
        async with state.sessions() as session:
            _, key = await create_key(session, owner="bench")
        headers = {"Authorization": f"Bearer {key}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            job = (
                await http.post(
                    "/api/scheduler/jobs",
                    headers=headers,
                    json={
                        "name": "bench",
                        "goal": "hello",
                        "agent_id": "echo",
                        "schedule": {"type": "every", "interval": "1d"},
                    },
                )
            ).json()
            total = 0

            async def measure(runs: int) -> float:
                nonlocal total

                async def one(_: int) -> None:
                    response = await http.post(
                        f"/api/scheduler/jobs/{job['id']}/trigger", headers=headers
                    )
                    await client.get_workflow_handle(response.json()["run_id"]).result()

                started = time.perf_counter()
                await bounded(concurrency, list(range(runs)), one)
                elapsed = time.perf_counter() - started
                total += runs
                async with state.sessions() as session:
                    done = (
                        await session.execute(
                            select(func.count())
                            .select_from(Run)
                            .where(col(Run.job_id) == job["id"], col(Run.status) == "completed")
                        )
                    ).scalar_one()
                assert done == total, f"only {done} of {total} runs recorded completed"
                return runs / elapsed

            yield Stack(measure, http, headers)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300, help="runs per round and side")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians win")
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument(
        "--database-url", default=None, help="index URL (default: SQLite in a temp dir)"
    )
    parser.add_argument(
        "--stock-sqlite",
        action="store_true",
        help="SQLite through the stock aiosqlite driver, not the one-hop cursor dev opts into",
    )
    args = parser.parse_args()
    # Our worker writes its workflow modules' bytecode at start; do the same for the bare side.
    compileall.compile_file(bare_workflow_module.__file__, quiet=2)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=packaged_binary("temporal"),
        search_attributes=search_attributes.ALL,
        data_converter=pydantic_data_converter,
    )
    bases: list[float] = []
    our: list[float] = []
    try:
        address = env.client.service_client.config.target_host
        with tempfile.TemporaryDirectory() as data:
            async with ours(
                env.client,
                address,
                Path(data),
                args.concurrency,
                args.database_url,
                not args.stock_sqlite,
            ) as stack:
                await bare(env.client, 30, 10)  # warm-up, both sides
                await stack.measure(30)
                for _ in range(args.rounds):
                    bases.append(await bare(env.client, args.runs, args.concurrency))
                    our.append(await stack.measure(args.runs))
    finally:
        await env.shutdown()
    base, mine = statistics.median(bases), statistics.median(our)
    sqlite = "sqlite, stock driver" if args.stock_sqlite else "sqlite, one-hop cursor"
    print(
        f"runs={args.runs} x {args.rounds} rounds, concurrency={args.concurrency}, "
        f"index={args.database_url or sqlite}"
    )
    print(
        f"bare one-activity workflow: {base:8.1f} runs/s  (rounds: "
        + ", ".join(f"{b:.1f}" for b in bases)
        + ")"
    )
    print(
        f"agent-scheduler echo job:   {mine:8.1f} runs/s  (rounds: "
        + ", ".join(f"{o:.1f}" for o in our)
        + ")"
    )
    # Each round's pair ran back to back, so its ratio is the fairest single sample under drift.
    pairs = sorted(o / b for o, b in zip(our, bases, strict=True))
    print(
        f"ratio (ours / bare):        {mine / base:8.2f}  (per round: "
        + ", ".join(f"{r:.2f}" for r in pairs)
        + f"; median {statistics.median(pairs):.2f})"
    )


if __name__ == "__main__":
    asyncio.run(main())
