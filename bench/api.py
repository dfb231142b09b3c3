"""Read latency of the index-backed endpoints against a bare FastAPI endpoint, same process.

    .venv/bin/python bench/api.py [--jobs 10000] [--runs 1000000] [--events 1000000]
                                  [--requests 300] [--database-url URL]

``--database-url`` must name an empty index database (e.g. a fresh PostgreSQL database).

Seeds one owner's jobs, runs (over the last 365 days) and activity events (through the same
write path as the API: raw events plus quarter-hour buckets) straight into a fresh index (a
SQLite file by default), then times ``GET /jobs?limit=50``, ``GET /stats`` and
``GET /smart/heatmap`` through the real app (auth included) and a bare endpoint that does
nothing, both over the same in-process ASGI transport. Two reference rows show the floors: a
bare endpoint that runs one ``SELECT 1`` through the index session, and ``GET /agents``, which
only authenticates. The ``same`` columns time a bare endpoint doing each endpoint's index work
(the same queries, no auth, no response model), so what our layers add is seen apart. No
Temporal server is needed: these endpoints only read the index.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import create_app  # noqa: E402
from api.index.activity import add_events  # noqa: E402
from api.index.db import make_engine, migrate  # noqa: E402
from api.index.jobs import list_jobs  # noqa: E402
from api.index.keys import create_key  # noqa: E402
from api.index.models import jobs as jobs_table  # noqa: E402
from api.index.models import runs as runs_table  # noqa: E402
from api.services import insight  # noqa: E402
from api.services.temporal_schedules import parse_schedule  # noqa: E402
from api.settings import Settings  # noqa: E402
from domain.schedules import next_fire_time  # noqa: E402

OWNER = "bench"
ZONE = "America/New_York"
STATUSES = ["completed"] * 90 + ["failed"] * 6 + ["timed_out"] * 2 + ["cancelled"] * 2
JOB_STATUSES = ["active"] * 8 + ["paused"] + ["completed"]
BATCH = 20_000


async def seed(url: str, *, jobs: int, runs: int, events: int) -> None:
    rng = random.Random(1)
    now = datetime.now(UTC)
    year = 365 * 86400
    engine = make_engine(url)
    schedules: list[dict[str, Any]] = [
        {"type": "cron", "expression": "*/5 9-17 * * 1-5", "timezone": "UTC"},
        {"type": "every", "interval": 3600, "timezone": "UTC"},
    ]
    # Stored as the API stores it on every create, edit and tick.
    next_fires = [next_fire_time(parse_schedule(schedule), after=now) for schedule in schedules]
    job_rows = []
    for i in range(jobs):
        created = now - timedelta(seconds=rng.randrange(year))
        status = rng.choice(JOB_STATUSES)
        job_rows.append(
            {
                "id": f"job_{i:012d}",
                "owner": OWNER,
                "name": f"job {i}",
                "goal": "benchmark",
                "agent_id": "echo",
                "schedule": schedules[i % 2],
                "timezone": "UTC",
                "status": status,
                "next_run_at": next_fires[i % 2] if status == "active" else None,
                "timeout_seconds": 60,
                "overlap": "skip",
                "max_consecutive_failures": 5,
                "consecutive_failures": 0,
                "run_count": 0,
                "created_at": created,
                "updated_at": created,
            }
        )
    async with engine.begin() as conn:
        await conn.execute(jobs_table.insert(), job_rows)
    for start in range(0, runs, BATCH):
        batch = []
        for i in range(start, min(start + BATCH, runs)):
            started = now - timedelta(seconds=rng.randrange(60, year))
            duration = rng.uniform(0.5, 120.0)
            batch.append(
                {
                    "id": f"run_{i:016d}",
                    "job_id": f"job_{rng.randrange(jobs):012d}",
                    "owner": OWNER,
                    "trigger": "schedule",
                    "status": rng.choice(STATUSES),
                    "started_at": started,
                    "completed_at": started + timedelta(seconds=duration),
                    "duration_seconds": duration,
                    "attempts": 1,
                }
            )
        async with engine.begin() as conn:
            await conn.execute(runs_table.insert(), batch)
    for start in range(0, events, BATCH):
        rows = [
            (OWNER, now - timedelta(seconds=rng.randrange(1, year)), "host")
            for _ in range(start, min(start + BATCH, events))
        ]
        async with engine.begin() as conn:
            await add_events(conn, rows)
    # What a database in service has had from autovacuum: statistics, and on PostgreSQL a
    # visibility map, without which index-only scans go back to the table for every row.
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        postgres = conn.dialect.name == "postgresql"
        await conn.execute(sa.text("VACUUM ANALYZE" if postgres else "ANALYZE"))
    await engine.dispose()


async def timed(call: Callable[[], Awaitable[httpx.Response]], requests: int) -> list[float]:
    for _ in range(20):  # warm up
        (await call()).raise_for_status()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await call()
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'index.db'}"
        migrate(url)
        started = time.perf_counter()
        await seed(url, jobs=args.jobs, runs=args.runs, events=args.events)
        print(
            f"seeded {args.jobs:,} jobs, {args.runs:,} runs, {args.events:,} events "
            f"in {time.perf_counter() - started:.1f}s ({url.split(':')[0]})"
        )

        bare = FastAPI()

        @bare.get("/bare")
        async def bare_endpoint() -> dict[str, bool]:
            return {"ok": True}

        settings = Settings(
            data_dir=Path(tmp),
            database_url=url,
            temporal_address="127.0.0.1:1",  # not used by these endpoints
            tick_interval_seconds=0,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            sessions = app.state.app.sessions
            async with sessions() as session:
                _, key = await create_key(session, owner=OWNER)

            @bare.get("/one-query")
            async def one_query_endpoint() -> dict[str, int]:
                async with sessions() as session:
                    return {"one": (await session.execute(sa.text("SELECT 1"))).scalar_one()}

            # The same index work as each endpoint, in a bare endpoint: no auth, no service
            # object, no response model; the rows or the service's answer as plain JSON.
            @bare.get("/same/jobs")
            async def same_jobs() -> dict[str, Any]:
                async with sessions() as session:
                    page, count = await list_jobs(
                        session, owner=OWNER, status=None, limit=50, offset=0
                    )
                return {"jobs": [job.model_dump(mode="json") for job in page], "count": count}

            @bare.get("/same/stats")
            async def same_stats() -> dict[str, Any]:
                async with sessions() as session:
                    answer = await insight.stats(
                        session, owner=OWNER, timezone=ZONE, days=7, now=datetime.now(UTC)
                    )
                return answer.model_dump(mode="json")

            @bare.get("/same/heatmap")
            async def same_heatmap() -> dict[str, Any]:
                async with sessions() as session:
                    answer = await insight.heatmap(
                        session, owner=OWNER, timezone=ZONE, days=30, now=datetime.now(UTC)
                    )
                return answer.model_dump(mode="json")

            headers = {"Authorization": f"Bearer {key}"}
            ours = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")
            plain = httpx.AsyncClient(transport=httpx.ASGITransport(app=bare), base_url="http://b")
            async with ours, plain:
                base = "/api/scheduler"
                Call = Callable[[], Awaitable[httpx.Response]]
                # name: (our call, the same work in a bare endpoint, or None)
                cases: dict[str, tuple[Call, Call | None]] = {
                    # What one trivial query through the index session costs, without auth.
                    "bare + SELECT 1": (lambda: plain.get("/one-query"), None),
                    # The floor of any authenticated endpoint: key lookup, no other query.
                    "GET /agents (auth)": (
                        lambda: ours.get(f"{base}/agents", headers=headers),
                        None,
                    ),
                    "GET /jobs?limit=50": (
                        lambda: ours.get(f"{base}/jobs", params={"limit": 50}, headers=headers),
                        lambda: plain.get("/same/jobs"),
                    ),
                    "GET /stats": (
                        lambda: ours.get(
                            f"{base}/stats", params={"timezone": ZONE}, headers=headers
                        ),
                        lambda: plain.get("/same/stats"),
                    ),
                    "GET /smart/heatmap": (
                        lambda: ours.get(
                            f"{base}/smart/heatmap",
                            params={"timezone": ZONE, "days": 30},
                            headers=headers,
                        ),
                        lambda: plain.get("/same/heatmap"),
                    ),
                }
                results = {}
                for name, (call, same) in cases.items():
                    # The bare endpoint right before each case, so both see the same machine load.
                    results[name] = (
                        await timed(lambda: plain.get("/bare"), args.requests),
                        await timed(call, args.requests),
                        None if same is None else await timed(same, args.requests),
                    )
        print(
            f"{'endpoint':<22}{'p50 ms':>9}{'p99 ms':>9}{'bare p50':>10}{'bare p99':>10}"
            f"{'p50 ×bare':>11}{'p99 ×bare':>11}{'same p50':>10}{'p50 ×same':>11}"
        )
        for name, (plain_ms, ours_ms, same_ms) in results.items():
            p50, p99 = percentile(ours_ms, 0.5), percentile(ours_ms, 0.99)
            b50, b99 = percentile(plain_ms, 0.5), percentile(plain_ms, 0.99)
            s50 = None if same_ms is None else percentile(same_ms, 0.5)
            same_cols = "" if s50 is None else f"{s50:>10.2f}{p50 / s50:>11.1f}"
            print(
                f"{name:<22}{p50:>9.2f}{p99:>9.2f}{b50:>10.2f}{b99:>10.2f}"
                f"{p50 / b50:>11.1f}{p99 / b99:>11.1f}{same_cols}"
            )
        print(
            f"({args.requests} sequential requests each after 20 warm-up; median of all: "
            f"{statistics.median([m for _, o, _ in results.values() for m in o]):.2f} ms)"
        )


if __name__ == "__main__":
    asyncio.run(main())
