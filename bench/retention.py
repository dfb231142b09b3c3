"""Reads while the tick prunes a million runs, against the same reads with nothing pruning.

    .venv/bin/python bench/retention.py [--runs 2000000] [--prune 1000000] [--requests 300]
                                        [--database-url URL] [--stock-sqlite]

``--database-url`` must name an empty index database (e.g. a fresh PostgreSQL database).

Seeds one owner's 10,000 jobs and ``--runs`` runs over the last 365 days (``bench/api.py``'s
seed), serves the app in its own process (``bench/api.py``'s harness), and times
``GET /jobs?limit=50``, ``GET /stats`` and ``GET /smart/heatmap`` in turns: first with nothing
else running, then while another process prunes the oldest ``--prune`` runs the way the tick
does (``prune_runs`` in batches of ``activities/tick/retention.py``'s ``BATCH``, each in its own
transaction, back to back: far faster than a tick's one batch per table), then again with
nothing running. Prints each phase's p50/p99 and the pruning phase's p99 over the quiet ones'.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.tick.retention import BATCH
from api.core.index.db import make_engine
from api.core.index.models import runs as runs_table
from api.core.index.retention import prune_runs
from bench.api import (
    ZONE,
    add_index_options,
    index_url,
    percentile,
    seeded_index,
    serving,
    use_driver,
)
from domain.delivery import SEMANTIC_COMPARED

API = "/api/scheduler"
READS = [f"{API}/jobs?limit=50", f"{API}/stats?timezone={ZONE}", f"{API}/smart/heatmap?days=30"]


async def cutoff(url: str, prune: int) -> datetime:
    """The instant before which ``prune`` runs ended (the oldest ones)."""
    engine = make_engine(url)
    async with engine.connect() as conn:
        found = await conn.execute(
            sa.select(runs_table.c.completed_at)
            .order_by(runs_table.c.completed_at)
            .offset(prune)
            .limit(1)
        )
        at: datetime = found.scalar_one()
    await engine.dispose()
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def pruner(url: str, before: datetime, done: Any) -> None:
    """Prune runs that ended before ``before``, batch after batch, until none is left (run in
    a child process, as the worker's tick would)."""

    async def run() -> None:
        engine = make_engine(url)
        pruned, started = 0, time.perf_counter()
        while True:
            async with engine.begin() as conn:
                n = await prune_runs(
                    conn, before=before, limit=BATCH, keep_delivered=SEMANTIC_COMPARED
                )
            pruned += n
            if n == 0:
                break
        await engine.dispose()
        done.put((pruned, time.perf_counter() - started))

    asyncio.run(run())


async def phase(get: Any, *, until: Any = None, requests: int) -> list[float]:
    """Latencies in ms of the reads in turn: ``requests`` of them, or until ``until()``."""
    took: list[float] = []
    i = 0
    while (until is None and i < requests) or (until is not None and not until()):
        began = time.perf_counter()
        assert await get(READS[i % len(READS)], True) == 200
        took.append((time.perf_counter() - began) * 1000)
        i += 1
    return took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2_000_000)
    parser.add_argument("--prune", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=300, help="reads in each quiet phase")
    add_index_options(parser)
    args = parser.parse_args()
    use_driver(args)
    with tempfile.TemporaryDirectory() as tmp:
        url = index_url(args, tmp)
        key = await seeded_index(url, jobs=10_000, runs=args.runs, events=0)
        before = await cutoff(url, args.prune)
        print(f"pruning the runs that ended before {before:%Y-%m-%d %H:%M} (about {args.prune:,})")
        context = multiprocessing.get_context("spawn")
        done = context.Queue()
        async with serving(url, tmp, key) as get:
            await phase(get, requests=60)  # warm-up
            quiet = await phase(get, requests=args.requests)
            child = context.Process(target=pruner, args=(url, before, done))
            child.start()
            pruning = await phase(get, until=lambda: not child.is_alive(), requests=0)
            child.join()
            pruned, seconds = done.get()
            after = await phase(get, requests=args.requests)
        print(f"pruned {pruned:,} runs in {seconds:.1f}s ({url.split(':')[0]})")
        print(f"{'phase':<34}{'reads':>7}{'p50 ms':>9}{'p99 ms':>9}")
        for name, took in (
            ("nothing pruning (before)", quiet),
            ("while pruning", pruning),
            ("nothing pruning (after)", after),
        ):
            p50, p99 = percentile(took, 0.5), percentile(took, 0.99)
            print(f"{name:<34}{len(took):>7}{p50:>9.2f}{p99:>9.2f}")
        during = percentile(pruning, 0.99)
        print(
            f"p99 while pruning / p99 before: {during / percentile(quiet, 0.99):.2f}x, / p99 "
            f"after: {during / percentile(after, 0.99):.2f}x (target <= 2)"
        )


if __name__ == "__main__":
    asyncio.run(main())
