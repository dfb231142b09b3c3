"""Several processes migrating one fresh index at the same instant (API replicas and workers
all start by migrating): every one succeeds and the schema ends at the heads exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from api.core.index.db import alembic_config, migrate, sync_url
from tests.helpers.databases import fresh_postgres_database

PROCESSES = 6

# Each child imports everything first, says it is ready, then waits for the go file: the
# migrations start within milliseconds of each other instead of one import time apart.
CHILD = """
import sys, time
from pathlib import Path
from api.core.index.db import migrate
ready, go, url = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
ready.touch()
deadline = time.monotonic() + 60
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("no go file within 60 s")
    time.sleep(0.001)
migrate(url)
"""


def migrate_together(url: str, workdir: Path, count: int = PROCESSES) -> list[tuple[int, str]]:
    """Start ``count`` processes that migrate ``url`` at once; their exit codes and stderr."""
    go = workdir / "go"
    processes = []
    for index in range(count):
        ready = workdir / f"ready-{index}"
        processes.append(
            (
                ready,
                subprocess.Popen(
                    [sys.executable, "-c", CHILD, str(ready), str(go), url],
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=Path(__file__).parent.parent,
                ),
            )
        )
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready, _ in processes):
        assert time.monotonic() < deadline, "children not ready within 60 s"
        assert all(p.poll() is None for _, p in processes), [p.poll() for _, p in processes]
        time.sleep(0.01)
    go.touch()
    results = []
    for _, process in processes:
        _, stderr = process.communicate(timeout=120)
        results.append((process.returncode, stderr))
    return results


def heads() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def assert_at_heads_once(url: str) -> None:
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        versions = [row[0] for row in connection.execute(sa.text("SELECT * FROM alembic_version"))]
        tables = set(sa.inspect(connection).get_table_names())
    engine.dispose()
    assert sorted(versions) == sorted(heads())
    assert {"jobs", "runs", "api_keys"} <= tables


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """A database of its own on the configured PostgreSQL server, dropped afterwards."""
    base = os.environ.get("AGENT_SCHEDULER_TEST_DATABASE_URL")
    if not base:
        pytest.skip("AGENT_SCHEDULER_TEST_DATABASE_URL is not set")
    with fresh_postgres_database(base, prefix="agent_scheduler_migrate") as url:
        yield url


def test_processes_migrating_a_fresh_postgres_index_at_once_all_succeed(
    fresh_postgres: str, tmp_path: Path
) -> None:
    results = migrate_together(fresh_postgres, tmp_path)
    failed = [stderr[-2000:] for code, stderr in results if code != 0]
    assert not failed, f"{len(failed)} of {PROCESSES} failed; first:\n{failed[0]}"
    assert_at_heads_once(fresh_postgres)


def test_processes_migrating_a_fresh_sqlite_index_at_once_all_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'index.db'}"
    results = migrate_together(url, tmp_path)
    failed = [stderr[-2000:] for code, stderr in results if code != 0]
    assert not failed, f"{len(failed)} of {PROCESSES} failed; first:\n{failed[0]}"
    assert_at_heads_once(url)


def test_threads_migrating_a_fresh_postgres_index_at_once_all_succeed(fresh_postgres: str) -> None:
    # Alembic's context is global to a process: without migrate()'s own lock, a second thread
    # would take over the first one's migration context mid-way.
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(fresh_postgres)
        except BaseException as error:  # noqa: BLE001 - reported by the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert_at_heads_once(fresh_postgres)
