"""The week's calendar of 10,000 active jobs against the jobs page, same server, same run.

    .venv/bin/python bench/calendar_week.py [--jobs 10000] [--requests 30] [--database-url URL]
                                       [--stock-sqlite]

``--database-url`` must name an empty index database (e.g. a fresh PostgreSQL database).

Seeds one owner's active jobs with ordinary schedules (daily, weekday, weekly and monthly crons
in six zones, and daily or two-daily intervals; about 18,000 fires a week, under the answer's cap of
20,000, so every job is evaluated) and a month of their runs, then times
``GET /calendar-data`` for the week from yesterday (the dashboard's calendar) next to
``GET /jobs?limit=50``, taking turns in blocks, served by uvicorn in its own process over HTTP
on loopback (the same harness as ``bench/api.py``). Prints each p50/p99, the calendar's p50 as
a multiple of the jobs page's, and the first calendar request's time: the process then has no
planned fires kept and works out every job's (api/services/planned.py).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.core.index.db import make_engine, make_sessionmaker, migrate
from api.core.index.keys import create_key
from api.core.index.models import jobs as jobs_table
from api.core.index.models import runs as runs_table
from bench.api import (
    OWNER,
    add_index_options,
    index_url,
    percentile,
    serving,
    timed,
    use_driver,
)

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Tokyo",
    "Australia/Sydney",
]
RUNS_PER_JOB = 5  # over the last 30 days


def schedule_of(i: int, rng: random.Random) -> dict[str, Any]:
    """The i-th job's schedule: 5% daily, 10% weekdays, 55% weekly, 25% monthly, 5% every one
    or two days."""
    zone = ZONES[i % len(ZONES)]
    minute, hour = rng.randrange(0, 60, 5), rng.randrange(24)
    kind = i % 20
    if kind < 1:
        expression = f"{minute} {hour} * * *"
    elif kind < 3:
        expression = f"{minute} {hour} * * 1-5"
    elif kind < 14:
        expression = f"{minute} {hour} * * {rng.randrange(7)}"
    elif kind < 19:
        expression = f"{minute} {hour} {rng.randrange(1, 29)} * *"
    else:
        return {"type": "every", "interval": rng.choice([24, 48]) * 3600, "timezone": zone}
    return {"type": "cron", "expression": expression, "timezone": zone}


async def seed(url: str, *, jobs: int) -> str:
    """Migrate and seed a fresh index; an API key of the owner."""
    migrate(url)
    rng = random.Random(1)
    now = datetime.now(UTC)
    engine = make_engine(url)
    rows = []
    for i in range(jobs):
        schedule = schedule_of(i, rng)
        created = now - timedelta(days=60)
        rows.append(
            {
                "id": f"job_{i:012d}",
                "owner": OWNER,
                "name": f"job {i}",
                "goal": "benchmark",
                "agent_id": "echo",
                "schedule": schedule,
                "timezone": schedule["timezone"],
                "status": "active",
                "timeout_seconds": 60,
                "overlap": "skip",
                "max_consecutive_failures": 5,
                "consecutive_failures": 0,
                "run_count": RUNS_PER_JOB,
                "created_at": created,
                "updated_at": created,
            }
        )
    runs = [
        {
            "id": f"run_{i:016d}",
            "job_id": f"job_{i % jobs:012d}",
            "owner": OWNER,
            "trigger": "schedule",
            "status": "completed",
            "started_at": (started := now - timedelta(seconds=rng.randrange(60, 30 * 86400))),
            "completed_at": started + timedelta(seconds=2),
            "duration_seconds": 2.0,
            "attempts": 1,
        }
        for i in range(jobs * RUNS_PER_JOB)
    ]
    async with engine.begin() as conn:
        await conn.execute(jobs_table.insert(), rows)
        for start in range(0, len(runs), 20_000):
            await conn.execute(runs_table.insert(), runs[start : start + 20_000])
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        postgres = conn.dialect.name == "postgresql"
        await conn.execute(sa.text("VACUUM ANALYZE" if postgres else "ANALYZE"))
    async with make_sessionmaker(engine)() as session:
        _, key = await create_key(session, owner=OWNER)
    await engine.dispose()
    return key


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=30)
    add_index_options(parser)
    args = parser.parse_args()
    use_driver(args)
    with tempfile.TemporaryDirectory() as tmp:
        url = index_url(args, tmp)
        started = time.perf_counter()
        key = await seed(url, jobs=args.jobs)
        print(f"seeded {args.jobs:,} active jobs in {time.perf_counter() - started:.1f}s")
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
        end = start + timedelta(days=7)
        week = (
            f"/api/scheduler/calendar-data?start={quote(start.isoformat())}"
            f"&end={quote(end.isoformat())}&timezone=Europe/Berlin"
        )
        async with serving(url, tmp, key) as get:
            began = time.perf_counter()
            assert await get(week, True) == 200
            cold = (time.perf_counter() - began) * 1000
            calendar, jobs = await timed(
                [lambda: get(week, True), lambda: get("/api/scheduler/jobs?limit=50", True)],
                args.requests,
            )
        rows = [("GET /calendar-data (a week)", calendar), ("GET /jobs?limit=50", jobs)]
        print(f"{'endpoint':<30} {'p50 ms':>9} {'p99 ms':>9}")
        for name, samples in rows:
            p50, p99 = percentile(samples, 0.5), percentile(samples, 0.99)
            print(f"{name:<30} {p50:>9.1f} {p99:>9.1f}")
        print(f"{'first calendar request (cold)':<30} {cold:>9.1f}")
        ratio = percentile(calendar, 0.5) / percentile(jobs, 0.5)
        print(f"calendar p50 / jobs page p50: {ratio:.1f}x ({url.split(':')[0]})")


if __name__ == "__main__":
    asyncio.run(main())
