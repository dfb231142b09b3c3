"""Engines, sessions and migrations of the index (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from api.core.index.sqlite_driver import OneHopDBAPI

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """The URL with an asyncio driver (aiosqlite, psycopg)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL '{parsed.drivername}': use sqlite or postgresql")


def sync_url(url: str) -> str:
    """The URL with a blocking driver, for Alembic."""
    parsed = make_url(url)
    drivername = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql+psycopg"
    return parsed.set(drivername=drivername).render_as_string(hide_password=False)


def _ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def alembic_config(url: str) -> Config:
    """Alembic's configuration for the index migrations on ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = sync_url(url)
    return config


# Alembic's context is global to the process: two threads must not migrate at once.
_MIGRATING = threading.Lock()


@contextlib.contextmanager
def _sqlite_migration_lock(url: str) -> Iterator[None]:
    """Hold an exclusive lock on a file next to a SQLite index while it is migrated.

    SQLite has no advisory locks and pysqlite runs DDL outside transactions, so two processes
    migrating one file would both create the same tables; the lock makes the second one wait
    and then find the schema at the heads. (PostgreSQL serializes in ``migrations/env.py``.)
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        yield
        return
    with open(f"{parsed.database}.migrate-lock", "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def migrate(url: str) -> None:
    """Apply every Alembic migration up to the heads (idempotent, safe at every start).

    Processes starting together (API replicas, workers) may all call it at once on a fresh
    index: one migrates while the others wait, then find nothing left to do.
    """
    _ensure_sqlite_dir(url)
    with _MIGRATING, _sqlite_migration_lock(url):
        # "heads": each feature adds its tables on its own branch off the initial revision.
        command.upgrade(alembic_config(url), "heads")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the worker writes; the busy timeout rides out short locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL cannot corrupt the file; a power cut may lose the last commits, which
    # the tick repairs from Temporal. It makes each commit several times cheaper.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, *, sqlite_one_hop: bool = False) -> AsyncEngine:
    """An async engine for the index URL; ``sqlite_one_hop`` opts SQLite into the one-hop
    cursor (:mod:`api.core.index.sqlite_driver`)."""
    _ensure_sqlite_dir(url)
    if make_url(url).get_backend_name() == "sqlite":
        # SQLite has one writer at a time; a single connection per engine queues statements
        # in-process instead of making writers sleep in SQLite's busy handler.
        driver = {"module": OneHopDBAPI()} if sqlite_one_hop else {}
        engine = create_async_engine(async_url(url), pool_size=1, max_overflow=0, **driver)
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(async_url(url), pool_pre_ping=True, pool_size=10)


def upsert_insert(bind: AsyncConnection | AsyncSession) -> Any:
    """The database's own ``insert``, which has ``on_conflict_do_update``."""
    conn = bind.get_bind() if isinstance(bind, AsyncSession) else bind
    return pg_insert if conn.dialect.name == "postgresql" else sqlite_insert


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded rows usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that only read, with no transaction around their statements.

    On PostgreSQL a transaction costs two round trips (``BEGIN``, then ``ROLLBACK``) and adds
    nothing to reads: at READ COMMITTED every statement sees its own snapshot either way.
    SQLite (``sqlite3``) already opens a transaction only before a write, and switching its
    connection to autocommit would cost two hops to aiosqlite's thread, so it keeps the usual
    sessions.
    """
    if engine.dialect.name == "sqlite":
        return make_sessionmaker(engine)
    return make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
