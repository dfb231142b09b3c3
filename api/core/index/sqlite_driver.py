"""SQLite for the async engine in one thread hop per statement.

aiosqlite runs each call of the ``sqlite3`` connection on its own thread, and SQLAlchemy's adapter
makes four such calls per statement (open a cursor, execute, fetch, close), each a round trip
between the event loop and that thread. The cursor here does the four in one call on the same
thread, so a statement costs one round trip (``bench/sqlite_driver.py`` measures the
difference).

It is an opt-in (``AGENT_SCHEDULER_SQLITE_ONE_HOP=true``), off by default: it relies on names
neither library documents (:data:`PRIVATE_NAMES`). Each connection checks them first and
refuses to start with a message naming what an upgrade removed, rather than misbehaving later;
``tests/test_sqlite_driver.py`` runs the same check against the pinned versions.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util.concurrency import await_

T = TypeVar("T")

# What the cursor uses that aiosqlite and SQLAlchemy's adapter do not document.
PRIVATE_NAMES = {
    "aiosqlite.Connection": ("_execute", "_conn"),
    "sqlalchemy AsyncAdapt_aiosqlite_connection": (
        "_connection",
        "_execute_mutex",
        "_handle_exception",
        "_cursor_cls",
    ),
}


class DriverChanged(RuntimeError):
    """aiosqlite or SQLAlchemy no longer has a name the one-hop cursor relies on."""


def missing_private_names(adapted: AsyncAdapt_aiosqlite_connection) -> list[str]:
    """The names of :data:`PRIVATE_NAMES` that ``adapted`` (a live connection) lacks."""
    owners = {
        "aiosqlite.Connection": getattr(adapted, "_connection", None),
        "sqlalchemy AsyncAdapt_aiosqlite_connection": adapted,
    }
    return [
        f"{owner}.{name}"
        for owner, names in PRIVATE_NAMES.items()
        for name in names
        if not hasattr(owners[owner], name)
    ]


class OneHopCursor:
    """A client-side DBAPI cursor whose every statement is one call on aiosqlite's thread."""

    server_side = False
    __slots__ = ("_adapt", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, adapt_connection: OneHopConnection) -> None:
        self._adapt = adapt_connection
        self._rows: collections.deque[Any] = collections.deque()
        self.arraysize = 1
        self.description: Any = None
        self.lastrowid: int | None = None
        self.rowcount = -1

    def _on_thread(self, work: Callable[[sqlite3.Cursor], T]) -> T:
        connection = cast(aiosqlite.Connection, self._adapt._connection)

        def call() -> T:
            cursor = connection._conn.cursor()
            try:
                return work(cursor)
            finally:
                cursor.close()

        async def hop() -> T:
            async with self._adapt._execute_mutex:
                result: T = await connection._execute(call)
                return result

        try:
            return await_(hop())
        except Exception as error:  # noqa: BLE001 - the driver maps it, as aiosqlite's does
            self._adapt._handle_exception(error)

    def execute(self, operation: str, parameters: Sequence[Any] | None = None) -> None:
        """Run one statement and keep all of its rows."""

        def work(cursor: sqlite3.Cursor) -> tuple[Any, list[Any], int, int | None]:
            cursor.execute(operation, () if parameters is None else parameters)
            rows = cursor.fetchall() if cursor.description else []
            return cursor.description, rows, cursor.rowcount, cursor.lastrowid

        self.description, rows, self.rowcount, self.lastrowid = self._on_thread(work)
        self._rows = collections.deque(rows)

    def executemany(self, operation: str, seq_of_parameters: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each set of parameters."""

        def work(cursor: sqlite3.Cursor) -> tuple[int, int | None]:
            cursor.executemany(operation, seq_of_parameters)
            return cursor.rowcount, cursor.lastrowid

        self.description = None
        self._rows.clear()
        self.rowcount, self.lastrowid = self._on_thread(work)

    def setinputsizes(self, *inputsizes: Any) -> None:
        """Not used by SQLite."""

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's asyncio results: the driver's cursor is closed already."""

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection, with one-hop cursors (server-side ones unchanged)
    and no hop at all for a rollback with no transaction open."""

    __slots__ = ()
    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def rollback(self) -> None:
        """Roll back, unless no transaction is open (sqlite3 opens one only before a write).

        Every read-only request ends with two rollbacks (the session's, then the pool's reset),
        each a round trip to aiosqlite's thread that would roll back nothing. Reading
        ``in_transaction`` off that thread is safe: the connection runs one call at a time and
        none is running between statements.
        """
        connection = cast(aiosqlite.Connection, self._connection)
        if connection._conn.in_transaction:
            super().rollback()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The ``module=`` of a ``sqlite+aiosqlite`` engine: its connections make one-hop cursors."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        """A one-hop connection; :class:`DriverChanged` if a private name it needs is gone."""
        adapted = super().connect(*arg, **kw)
        if missing := missing_private_names(adapted):
            adapted.close()
            raise DriverChanged(
                f"the one-hop SQLite cursor needs {', '.join(missing)}, which this "
                f"aiosqlite ({aiosqlite.__version__}) or SQLAlchemy no longer has: set "
                "AGENT_SCHEDULER_SQLITE_ONE_HOP=false (the default) or pin the versions back"
            )
        return OneHopConnection(self, adapted._connection)
