"""Read latency of the index-backed endpoints against a bare FastAPI endpoint, same process.

    .venv/bin/python bench/api.py [--jobs 10000] [--runs 1000000] [--events 1000000]
                                  [--requests 300] [--database-url URL] [--in-process]
    .venv/bin/python bench/api.py --flat  # p50 on a tenth of the runs and events vs all of them

``--database-url`` must name an empty index database (e.g. a fresh PostgreSQL database).

Seeds one owner's jobs, runs (over the last 365 days) and activity events (through the same
write path as the API) straight into a fresh index (a SQLite file by default), then times
``GET /jobs?limit=50``, ``GET /stats`` and ``GET /smart/heatmap`` through the real app (auth
included) next to a bare endpoint that does nothing, taking turns in blocks: served by uvicorn
in its own process over HTTP on loopback, from a minimal keep-alive client so the figures are
the server's, and with ``--in-process`` also over httpx's ASGI transport (no HTTP). Two
reference rows show the floors: a bare endpoint that runs one ``SELECT 1`` through the index
session, and ``GET /agents``, which only authenticates; each endpoint's p50 is also given as a
multiple of that authenticated floor, and its p99 against the 15 ms target. The ``same``
columns time a bare endpoint doing each endpoint's index work (the same queries, no auth, no
response model), so what our layers add is seen apart. Before each case every active job's
``next_run_at`` is stored as the reconciler tick keeps it. No Temporal server is needed: these
endpoints only read the index.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import multiprocessing
import os
import random
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.app import create_app
from api.core.index.activity import add_events
from api.core.index.db import make_engine, make_sessionmaker, migrate
from api.core.index.jobs import list_jobs
from api.core.index.keys import create_key
from api.core.index.models import jobs as jobs_table
from api.core.index.models import runs as runs_table
from api.core.schedules import parse_schedule
from api.core.settings import Settings
from api.services import insight
from domain.schedules import next_fire_time

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
                "next_run_at": None,  # stored by refresh_next_runs, as the tick does
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


async def refresh_next_runs(url: str) -> None:
    """Store each active job's next fire where it changed, as the reconciler tick does every
    30 s by default, and let PostgreSQL vacuum what that left, as autovacuum would.

    Called before each case (each takes well under 30 s), so pages read what a ticked index
    holds: a stored ``next_run_at`` already behind is recomputed on every page.
    """
    engine = make_engine(url)
    now = datetime.now(UTC)
    fires: dict[str, datetime | None] = {}
    async with engine.begin() as conn:
        rows = await conn.execute(
            sa.select(jobs_table.c.id, jobs_table.c.schedule, jobs_table.c.next_run_at).where(
                jobs_table.c.status == "active"
            )
        )
        changes = []
        for job_id, schedule, stored in rows.all():
            key = json.dumps(schedule, sort_keys=True)
            if key not in fires:
                fires[key] = next_fire_time(parse_schedule(schedule), after=now)
            if fires[key] != stored:
                changes.append({"b_id": job_id, "b_next": fires[key]})
        if changes:
            await conn.execute(
                jobs_table.update()
                .where(jobs_table.c.id == sa.bindparam("b_id"))
                .values(next_run_at=sa.bindparam("b_next")),
                changes,
            )
    if changes and engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(sa.text("VACUUM ANALYZE jobs"))
    await engine.dispose()


BLOCK = 20  # requests to one endpoint before the next endpoint's turn


async def timed(calls: list[Call], requests: int) -> list[list[float]]:
    """Latencies in ms of ``requests`` calls of each, after 20 warm-up calls each.

    The calls take turns in blocks of ``BLOCK`` requests, so each sees the same drift of this
    shared machine's speed, while what one endpoint leaves behind (garbage to collect, cold
    caches) lands on the first request of the next block only, not on every request."""
    for call in calls:
        for _ in range(20):
            assert await call() == 200
    samples: list[list[float]] = [[] for _ in calls]
    for block in range(0, requests, BLOCK):
        for call, found in zip(calls, samples, strict=True):
            for _ in range(min(BLOCK, requests - block)):
                started = time.perf_counter()
                status = await call()
                found.append((time.perf_counter() - started) * 1000)
                assert status == 200
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


BARE = "/bare"  # the reference endpoints' prefix, kept apart from the app's own routes


def build(url: str, data_dir: Path) -> tuple[FastAPI, FastAPI]:
    """Our app, and a bare app: a do-nothing endpoint, one ``SELECT 1`` through the index
    session, and each timed endpoint's index work with no auth and no response model."""
    app = create_app(
        Settings(
            data_dir=data_dir,
            database_url=url,
            temporal_address="127.0.0.1:1",  # not used by these endpoints
            tick_interval_seconds=0,
        )
    )
    bare = FastAPI()

    def sessions() -> Any:
        return app.state.app.read_sessions()  # what our GET routes read through

    @bare.get(f"{BARE}/nothing")
    async def nothing() -> dict[str, bool]:
        return {"ok": True}

    @bare.get(f"{BARE}/select-1")
    async def select_1() -> dict[str, int]:
        async with sessions() as session:
            return {"one": (await session.execute(sa.text("SELECT 1"))).scalar_one()}

    @bare.get(f"{BARE}/jobs")
    async def same_jobs() -> dict[str, Any]:
        async with sessions() as session:
            page, count = await list_jobs(session, owner=OWNER, status=None, limit=50, offset=0)
        return {"jobs": [dict(row._mapping) for row in page], "count": count}

    async def service_json(service: Any, days: int) -> dict[str, Any]:
        async with sessions() as session:
            answer = await service(
                session, owner=OWNER, timezone=ZONE, days=days, now=datetime.now(UTC)
            )
        return dict(answer.model_dump(mode="json"))

    @bare.get(f"{BARE}/stats")
    async def same_stats() -> dict[str, Any]:
        return await service_json(insight.stats, 7)

    @bare.get(f"{BARE}/heatmap")
    async def same_heatmap() -> dict[str, Any]:
        return await service_json(insight.heatmap, 30)

    return app, bare


def dispatch(app: FastAPI, bare: FastAPI) -> Any:
    """One ASGI app: ``/bare/…`` to the bare app, everything else (lifespan too) to ours."""

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        target = bare if scope["type"] == "http" and scope["path"].startswith(BARE) else app
        await target(scope, receive, send)

    return asgi


def serve(url: str, data_dir: str, port: int) -> None:
    """Serve both apps with uvicorn, as ``agent-scheduler api`` does (run in a child process)."""
    app, bare = build(url, Path(data_dir))
    uvicorn.run(dispatch(app, bare), host="127.0.0.1", port=port, log_level="warning")


Call = Callable[[], Awaitable[int]]
Get = Callable[[str, bool], Awaitable[int]]  # (path and query, authenticated?) -> HTTP status
Samples = tuple[list[float], list[float], list[float] | None]


async def measure(get: Get, url: str, requests: int) -> dict[str, Samples]:
    """Per case: the do-nothing endpoint's, our endpoint's and the same work's latencies."""
    api, zone = "/api/scheduler", f"timezone={ZONE}"
    # name: (our path, authenticated?, the path of the same work in a bare endpoint, or None)
    cases: dict[str, tuple[str, bool, str | None]] = {
        # What one trivial query through the index session costs, without auth.
        "bare + SELECT 1": (f"{BARE}/select-1", False, None),
        # The floor of any authenticated endpoint: key lookup, no other query.
        "GET /agents (auth)": (f"{api}/agents", True, None),
        "GET /jobs?limit=50": (f"{api}/jobs?limit=50", True, f"{BARE}/jobs"),
        "GET /stats": (f"{api}/stats?{zone}", True, f"{BARE}/stats"),
        "GET /smart/heatmap": (f"{api}/smart/heatmap?{zone}&days=30", True, f"{BARE}/heatmap"),
    }

    def call(path: str, auth: bool) -> Call:
        return lambda: get(path, auth)

    results: dict[str, Samples] = {}
    for name, (path, auth, same) in cases.items():
        await refresh_next_runs(url)
        # The do-nothing endpoint in turn with ours (and the same work).
        calls = [call(f"{BARE}/nothing", False), call(path, auth)]
        if same is not None:
            calls.append(call(same, False))
        plain, ours, *rest = await timed(calls, requests)
        results[name] = (plain, ours, rest[0] if rest else None)
    return results


FLOOR = "GET /agents (auth)"
P99_TARGET_MS = 15.0


def report(title: str, results: dict[str, Samples], requests: int) -> None:
    print(f"\n{title}")
    print(
        f"{'endpoint':<22}{'p50 ms':>9}{'p99 ms':>9}{'bare p50':>10}{'bare p99':>10}"
        f"{'p50 ×bare':>11}{'p99 ×bare':>11}{'same p50':>10}{'p50 ×same':>11}"
        f"{'p50 ×/agents':>14}{'p99 ≤ 15':>10}"
    )
    floor = percentile(results[FLOOR][1], 0.5) if FLOOR in results else None
    for name, (plain_ms, ours_ms, same_ms) in results.items():
        p50, p99 = percentile(ours_ms, 0.5), percentile(ours_ms, 0.99)
        b50, b99 = percentile(plain_ms, 0.5), percentile(plain_ms, 0.99)
        s50 = None if same_ms is None else percentile(same_ms, 0.5)
        same_cols = "" if s50 is None else f"{s50:>10.2f}{p50 / s50:>11.1f}"
        target_cols = ""
        if s50 is not None and floor is not None:
            met = "met" if p99 <= P99_TARGET_MS else "not met"
            target_cols = f"{p50 / floor:>14.2f}{met:>10}"
        print(
            f"{name:<22}{p50:>9.2f}{p99:>9.2f}{b50:>10.2f}{b99:>10.2f}"
            f"{p50 / b50:>11.1f}{p99 / b99:>11.1f}{same_cols}{target_cols}"
        )
    print(f"({requests} sequential requests each, in turns of {BLOCK}, after 20 warm-up)")


class RawHttp:
    """A minimal HTTP/1.1 client on one keep-alive connection: each request's bytes built once,
    each answer read by its ``Content-Length``. It times the server and little of the client
    (httpx spends about 0.5 ms of Python a request here, the same for every endpoint, which
    would make every ratio look smaller than the server's)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: str):
        self._reader, self._writer = reader, writer
        self._authorization = f"authorization: Bearer {key}\r\n"
        self._requests: dict[tuple[str, bool], bytes] = {}

    async def get(self, path: str, auth: bool) -> int:
        """GET ``path``; its status once the whole answer is read."""
        request = self._requests.get((path, auth))
        if request is None:
            headers = self._authorization if auth else ""
            request = f"GET {path} HTTP/1.1\r\nhost: bench\r\n{headers}\r\n".encode()
            self._requests[(path, auth)] = request
        self._writer.write(request)
        head = await self._reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await self._reader.readexactly(length)
        return int(head[9:12])


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextlib.asynccontextmanager
async def serving(url: str, data_dir: str, key: str) -> AsyncIterator[Get]:
    """Our app and the bare one served by uvicorn in its own process; a GET over HTTP."""
    port = free_port()
    child = multiprocessing.get_context("spawn").Process(
        target=serve, args=(url, data_dir, port), daemon=True
    )
    child.start()
    try:
        for _ in range(300):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError("the served app did not start")
        try:
            yield RawHttp(reader, writer, key).get
        finally:
            writer.close()
    finally:
        child.terminate()
        child.join()


async def served(url: str, data_dir: str, key: str, requests: int) -> dict[str, Samples]:
    """Measure over HTTP on loopback, against uvicorn in its own process."""
    async with serving(url, data_dir, key) as get:
        return await measure(get, url, requests)


async def seeded_index(url: str, *, jobs: int, runs: int, events: int) -> str:
    """Migrate and seed a fresh index; an API key of the owner."""
    migrate(url)
    started = time.perf_counter()
    await seed(url, jobs=jobs, runs=runs, events=events)
    print(
        f"seeded {jobs:,} jobs, {runs:,} runs, {events:,} events "
        f"in {time.perf_counter() - started:.1f}s ({url.split(':')[0]})",
        flush=True,
    )
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as session:
        _, key = await create_key(session, owner=OWNER)
    await engine.dispose()
    return key


FLAT_TARGET = 1.2


async def flat(tmp: str, args: argparse.Namespace) -> None:
    """The three endpoints on an index with a tenth of the runs and events and on the full one,
    both served at once and taking turns, so both see the same machine."""
    small_url = f"sqlite:///{Path(tmp) / 'small.db'}"
    big_url = f"sqlite:///{Path(tmp) / 'big.db'}"
    tenth = {"jobs": args.jobs, "runs": args.runs // 10, "events": args.events // 10}
    small_key = await seeded_index(small_url, **tenth)
    big_key = await seeded_index(big_url, jobs=args.jobs, runs=args.runs, events=args.events)
    api, zone = "/api/scheduler", f"timezone={ZONE}"
    paths = {
        "GET /jobs?limit=50": f"{api}/jobs?limit=50",
        "GET /stats": f"{api}/stats?{zone}",
        "GET /smart/heatmap": f"{api}/smart/heatmap?{zone}&days=30",
    }
    print(f"\n{'endpoint':<22}{'p50 small':>11}{'p50 full':>10}{'full/small':>12}{'≤ 1.2':>9}")
    async with (
        serving(small_url, tmp, small_key) as small,
        serving(big_url, tmp, big_key) as big,
    ):
        for name, path in paths.items():
            await refresh_next_runs(small_url)
            await refresh_next_runs(big_url)
            calls: list[Call] = [
                functools.partial(small, path, True),
                functools.partial(big, path, True),
            ]
            small_ms, big_ms = await timed(calls, args.requests)
            ratio = percentile(big_ms, 0.5) / percentile(small_ms, 0.5)
            print(
                f"{name:<22}{percentile(small_ms, 0.5):>11.2f}{percentile(big_ms, 0.5):>10.2f}"
                f"{ratio:>12.2f}{'met' if ratio <= FLAT_TARGET else 'not met':>9}"
            )
    print(
        f"(small: {tenth['runs']:,} runs and {tenth['events']:,} events; full: {args.runs:,} "
        f"and {args.events:,}; {args.requests} requests each, in turns of {BLOCK})"
    )


def add_index_options(parser: argparse.ArgumentParser) -> None:
    """``--database-url`` (an empty index database; a fresh SQLite file by default) and
    ``--stock-sqlite``."""
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    add_driver_option(parser)


def index_url(args: argparse.Namespace, tmp: str) -> str:
    """The index the bench seeds: ``--database-url``, or a SQLite file in ``tmp``."""
    return args.database_url or f"sqlite:///{Path(tmp) / 'index.db'}"


def add_driver_option(parser: argparse.ArgumentParser) -> None:
    """``--stock-sqlite``: serve SQLite through the stock driver, not the one-hop cursor."""
    parser.add_argument(
        "--stock-sqlite",
        action="store_true",
        help="SQLite through the stock aiosqlite driver, not the one-hop cursor dev opts into",
    )


def use_driver(args: argparse.Namespace) -> None:
    """Serve SQLite as ``--stock-sqlite`` says; the served app (a child process) reads its
    settings from the environment too."""
    os.environ["AGENT_SCHEDULER_SQLITE_ONE_HOP"] = "false" if args.stock_sqlite else "true"
    driver = "the stock driver" if args.stock_sqlite else "the one-hop cursor, as dev"
    print(f"SQLite served through {driver}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--in-process", action="store_true", help="also measure over httpx's ASGI transport"
    )
    parser.add_argument(
        "--flat",
        action="store_true",
        help="instead: the endpoints on a tenth of the runs and events against the full index",
    )
    add_index_options(parser)
    args = parser.parse_args()
    use_driver(args)

    with tempfile.TemporaryDirectory() as tmp:
        if args.flat:
            await flat(tmp, args)
            return
        url = index_url(args, tmp)
        key = await seeded_index(url, jobs=args.jobs, runs=args.runs, events=args.events)
        report(
            "Served: uvicorn in its own process, over HTTP on loopback from a minimal client",
            await served(url, tmp, key, args.requests),
            args.requests,
        )
        if not args.in_process:
            return
        app, bare = build(url, Path(tmp))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=dispatch(app, bare))
            async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                headers = {"Authorization": f"Bearer {key}"}

                async def get(path: str, auth: bool) -> int:
                    answer = await client.get(path, headers=headers if auth else None)
                    return answer.status_code

                in_process = await measure(get, url, args.requests)
        report(
            "In process: the same apps over httpx's ASGI transport (no HTTP)",
            in_process,
            args.requests,
        )


if __name__ == "__main__":
    asyncio.run(main())
