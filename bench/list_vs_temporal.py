"""One page of an owner's paused jobs with their total count, read from the index through the
served API, against the same page read from Temporal without an index.

    .venv/bin/python bench/list_vs_temporal.py [--jobs 10000] [--requests 200]

Seeds one owner's jobs into a fresh SQLite index (as ``bench/api.py`` does: 80 % active, 10 %
paused, 10 % completed) and gives every live one a Temporal schedule on a dev server started as
``agent-scheduler dev`` starts it (paused as its job, with our search attributes). Then, taking
turns in blocks: ``GET /jobs?status=paused&limit=50`` served by uvicorn in its own process, from
a minimal keep-alive client; and what a user without the index would do: the first 50 of
``list_schedules`` with a visibility query for the owner's paused schedules, plus
``count_workflows`` for the total. Both answers are checked to hold the same count.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    ScheduleState,
)
from temporalio.contrib.pydantic import pydantic_data_converter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.cli.devserver import DevServer
from api.core.index.db import make_engine
from api.core.index.models import jobs as jobs_table
from bench.api import (
    OWNER,
    add_driver_option,
    free_port,
    percentile,
    seeded_index,
    serving,
    timed,
    use_driver,
)
from domain.contract.names import RUN_WORKFLOW
from domain.contract.runs import JobRunInput
from domain.search_attributes import run_attributes

PAUSED = f"AgentSchedulerOwner = '{OWNER}' AND TemporalSchedulePaused = true"
PAGE = 50


async def schedules_for(client: Client, url: str) -> int:
    """A schedule per live job of the index, paused as the job; the number paused."""
    engine = make_engine(url)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(jobs_table.c.id, jobs_table.c.status).where(
                    jobs_table.c.status.in_(["active", "paused"])
                )
            )
        ).all()
    await engine.dispose()
    gate = asyncio.Semaphore(20)

    async def create(job_id: str, status: str) -> None:
        attributes = run_attributes(job_id, OWNER, "schedule")
        schedule = Schedule(
            action=ScheduleActionStartWorkflow(
                RUN_WORKFLOW,
                JobRunInput(job_id=job_id, owner=OWNER),
                id=f"run_{job_id}",
                task_queue="list-vs-temporal",
                typed_search_attributes=attributes,
            ),
            spec=ScheduleSpec(cron_expressions=["0 0 1 1 *"]),
            state=ScheduleState(paused=status == "paused"),
        )
        async with gate:
            await client.create_schedule(job_id, schedule, search_attributes=attributes)

    await asyncio.gather(*(create(job_id, status) for job_id, status in rows))
    return sum(1 for _, status in rows if status == "paused")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    add_driver_option(parser)
    args = parser.parse_args()
    use_driver(args)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'index.db'}"
        key = await seeded_index(url, jobs=args.jobs, runs=0, events=0)
        server = DevServer(Path(tmp) / "temporal", port=free_port(), ui_port=free_port())
        await server.start()
        try:
            client = await Client.connect(server.address, data_converter=pydantic_data_converter)
            paused = await schedules_for(client, url)
            counted = f"TemporalNamespaceDivision = 'TemporalScheduler' AND {PAUSED}"
            while (await client.count_workflows(counted)).count != paused:
                await asyncio.sleep(0.5)  # visibility is eventually consistent
            print(f"{args.jobs:,} jobs; {paused} paused, each with its schedule in Temporal")

            async def temporal() -> int:
                page = []
                async for listed in await client.list_schedules(PAUSED, page_size=PAGE):
                    page.append(listed)
                    if len(page) == PAGE:
                        break
                total = (await client.count_workflows(counted)).count
                return 200 if len(page) == min(PAGE, paused) and total == paused else 500

            async with serving(url, tmp, key) as get:
                ours = functools.partial(
                    get, f"/api/scheduler/jobs?status=paused&limit={PAGE}", True
                )
                our_ms, temporal_ms = await timed([ours, temporal], args.requests)
        finally:
            await server.stop()
    o50, t50 = percentile(our_ms, 0.5), percentile(temporal_ms, 0.5)
    print(f"{'read':<44}{'p50 ms':>9}{'p99 ms':>9}")
    print(
        f"{'ours: GET /jobs?status=paused&limit=50':<44}{o50:>9.2f}{percentile(our_ms, 0.99):>9.2f}"
    )
    print(
        f"{'Temporal: list_schedules + count_workflows':<44}{t50:>9.2f}"
        f"{percentile(temporal_ms, 0.99):>9.2f}"
    )
    print(f"Temporal p50 / ours p50: {t50 / o50:.1f}x ({args.requests} each, in turns)")


if __name__ == "__main__":
    asyncio.run(main())
