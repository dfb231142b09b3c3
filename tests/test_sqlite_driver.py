"""The opt-in one-hop SQLite cursor (api/core/index/sqlite_driver.py) answers as the DBAPI says,
and refuses to start, loudly, once an upgrade removes a private name it relies on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.core.index.db import make_engine
from api.core.index.sqlite_driver import (
    PRIVATE_NAMES,
    DriverChanged,
    OneHopConnection,
    OneHopCursor,
    missing_private_names,
)

things = sa.Table(
    "things",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, unique=True),
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}", sqlite_one_hop=True)
    async with engine.begin() as conn:
        await conn.run_sync(things.metadata.create_all)
    yield engine
    await engine.dispose()


async def test_rows_ids_and_counts_come_back_from_one_call(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.dbapi_connection.cursor(), OneHopCursor)  # type: ignore[union-attr]

        inserted = await conn.execute(things.insert().values(name="a"))
        assert inserted.inserted_primary_key == (1,)  # lastrowid
        await conn.execute(things.insert(), [{"name": "b"}, {"name": "c"}])  # executemany
        returned = await conn.execute(things.insert().values(name="d").returning(things.c.id))
        assert returned.scalar_one() == 4

        updated = await conn.execute(
            things.update()
            .where(things.c.name.in_(["a", "b", "z"]))
            .values(name=things.c.name + "!")
        )
        assert updated.rowcount == 2
        rows = (await conn.execute(sa.select(things.c.name).order_by(things.c.id))).scalars().all()
        assert rows == ["a!", "b!", "c", "d"]
        page = await conn.execute(sa.select(things.c.id).order_by(things.c.id))
        assert page.fetchmany(3) == [(1,), (2,), (3,)] and page.fetchall() == [(4,)]


async def test_errors_are_the_usual_sqlalchemy_ones_and_change_nothing(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(things.insert().values(name="a"))
    with pytest.raises(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(things.insert().values(name="b"))
            await conn.execute(things.insert().values(name="a"))
    async with engine.connect() as conn:
        names = (await conn.execute(sa.select(things.c.name))).scalars().all()
    assert names == ["a"]


async def test_a_rollback_undoes_writes_and_a_read_costs_one_call(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with engine.connect() as conn:
        await conn.execute(things.insert().values(name="kept"))
        await conn.commit()
        await conn.execute(things.insert().values(name="undone"))
        await conn.rollback()
        names = (await conn.execute(sa.select(things.c.name))).scalars().all()
        assert names == ["kept"]

    calls: list[str] = []
    execute = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(fn.__name__)
        return await execute(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    # A read and its connection's return to the pool: only the statement crosses threads,
    # not the two rollbacks of a transaction that never opened.
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(things))).scalar() == 1
    assert calls == ["call"]
    calls.clear()
    async with engine.connect() as conn:
        await conn.execute(things.insert().values(name="dropped"))
    assert calls == ["call", "rollback"]
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(things))).scalar() == 1


async def test_the_pinned_versions_have_every_private_name(engine: AsyncEngine) -> None:
    """Fails on the upgrade of aiosqlite or SQLAlchemy that drops a name the cursor uses."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert missing_private_names(raw.dbapi_connection) == []  # type: ignore[arg-type]


async def test_a_missing_private_name_stops_the_engine_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after an upgrade that renamed one: the check asks for a name the library lacks."""
    needed = PRIVATE_NAMES["aiosqlite.Connection"]
    monkeypatch.setitem(PRIVATE_NAMES, "aiosqlite.Connection", (*needed, "_renamed_upstream"))
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}", sqlite_one_hop=True)
    try:
        with pytest.raises(DriverChanged) as raised:
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert "aiosqlite.Connection._renamed_upstream" in str(raised.value)
    assert "AGENT_SCHEDULER_SQLITE_ONE_HOP=false" in str(raised.value)


async def test_the_default_engine_uses_the_stock_driver(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert not isinstance(raw.dbapi_connection, OneHopConnection)
            assert (await conn.execute(sa.select(sa.literal(1)))).scalar() == 1
    finally:
        await engine.dispose()
