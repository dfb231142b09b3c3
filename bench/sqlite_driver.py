"""What the opt-in one-hop SQLite cursor saves per statement, next to the stock aiosqlite driver.

    .venv/bin/python bench/sqlite_driver.py [--statements 2000] [--rounds 5]

Both engines read and write the same index file in this process, in alternating rounds (stock,
one-hop, stock, …), so load from elsewhere on the machine falls on both sides alike. Each kind of
statement is one a request or a run makes: a primary-key read (the API-key lookup), a 50-row
page, and a one-row write committed on its own.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.core.index.db import make_engine

rows = sa.Table(
    "rows",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner", sa.String, index=True),
    sa.Column("name", sa.String),
)


async def point_read(engine: AsyncEngine, i: int) -> None:
    async with engine.connect() as conn:
        await conn.execute(sa.select(rows.c.name).where(rows.c.id == 1 + i % 5000))


async def page_read(engine: AsyncEngine, i: int) -> None:
    async with engine.connect() as conn:
        query = sa.select(rows).where(rows.c.owner == f"o{i % 10}").order_by(rows.c.id).limit(50)
        (await conn.execute(query)).all()


async def write(engine: AsyncEngine, i: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(rows.update().where(rows.c.id == 1 + i % 5000).values(name=f"w{i}"))


KINDS: dict[str, Callable[[AsyncEngine, int], Awaitable[None]]] = {
    "primary-key read": point_read,
    "50-row page": page_read,
    "one-row write + commit": write,
}


async def per_statement_ms(engine: AsyncEngine, kind: str, statements: int) -> float:
    run = KINDS[kind]
    started = time.perf_counter()
    for i in range(statements):
        await run(engine, i)
    return (time.perf_counter() - started) * 1000 / statements


async def main(statements: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/index.db"
        stock, one_hop = make_engine(url), make_engine(url, sqlite_one_hop=True)
        async with stock.begin() as conn:
            await conn.run_sync(rows.metadata.create_all)
            await conn.execute(
                rows.insert(), [{"owner": f"o{i % 10}", "name": f"n{i}"} for i in range(5000)]
            )
        print(f"{statements} statements a round, {rounds} rounds, medians of the rounds")
        print(f"{'statement':<24} {'stock ms':>9} {'one-hop ms':>11} {'saved ms':>9} {'ratio':>6}")
        for kind in KINDS:
            times: dict[str, list[float]] = {"stock": [], "one-hop": []}
            for _ in range(rounds):
                times["stock"].append(await per_statement_ms(stock, kind, statements))
                times["one-hop"].append(await per_statement_ms(one_hop, kind, statements))
            base, ours = (statistics.median(times[side]) for side in ("stock", "one-hop"))
            print(f"{kind:<24} {base:>9.3f} {ours:>11.3f} {base - ours:>9.3f} {ours / base:>6.2f}")
        await stock.dispose()
        await one_hop.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.statements, args.rounds))
