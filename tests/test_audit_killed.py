"""An API process killed in the middle of a change leaves no event without its change and no
change without its event (docs/api.md, "Audit log"): both are one transaction. PostgreSQL only:
the test holds a lock that one of the two writes waits on, so the API is killed inside its
transaction with the other one written or about to be."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from api.core.index.db import sync_url
from tests.helpers.api import JOBS
from tests.helpers.databases import fresh_postgres_database
from tests.helpers.dev import running_dev, until

pytestmark = [
    pytest.mark.server,  # runs `agent-scheduler dev`
    pytest.mark.skipif(
        not os.environ.get("AGENT_SCHEDULER_TEST_DATABASE_URL"), reason="needs PostgreSQL"
    ),
]

# What the test locks, and the statement of the API's update that then waits on it.
CAUGHT = {
    "the job's row": ("SELECT id FROM jobs WHERE id = :id FOR UPDATE", "UPDATE jobs %"),
    "the audit table": ("LOCK TABLE audit_events IN SHARE MODE", "INSERT INTO audit_events %"),
}


@pytest.mark.parametrize("caught_on", list(CAUGHT))
def test_an_api_killed_mid_update_leaves_neither_the_change_nor_its_event(
    tmp_path: Path, caught_on: str
) -> None:
    lock, waiting = CAUGHT[caught_on]
    base = os.environ["AGENT_SCHEDULER_TEST_DATABASE_URL"]
    with fresh_postgres_database(base, prefix="agent_scheduler_audit_kill") as url:
        env = {"AGENT_SCHEDULER_DATABASE_URL": url}
        with running_dev(tmp_path / "data", tmp_path / "logs", env=env) as dev:
            job = dev.create_job(name="before")
            engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
            # pg_stat_activity keeps one snapshot per transaction: these read in autocommit.
            watcher = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            with engine.connect() as holder:
                held = holder.begin()
                holder.execute(sa.text(lock), {"id": job["id"]})
                thread = threading.Thread(
                    target=_rename,
                    args=(f"{dev.api}{JOBS}/{job['id']}", dev.headers()),
                    daemon=True,
                )
                thread.start()
                until(
                    f"the API's update waiting on {caught_on}",
                    lambda: _running(watcher, waiting, locked=True),
                    timeout=30,
                )
                os.kill(dev.process.pid, signal.SIGKILL)
                dev.process.wait(timeout=30)
                held.rollback()
            thread.join(timeout=30)
            # The killed connection's transaction is rolled back as the server sees it go.
            until("the killed update gone", lambda: not _running(watcher, waiting), timeout=30)
            name = watcher.execute(
                sa.text("SELECT name FROM jobs WHERE id = :id"), {"id": job["id"]}
            ).scalar_one()
            events = watcher.execute(
                sa.text("SELECT action FROM audit_events WHERE job_id = :id ORDER BY id"),
                {"id": job["id"]},
            ).scalars()
            assert (name, list(events)) == ("before", ["job.create"])
            watcher.close()
            engine.dispose()


def _running(conn: sa.Connection, statement: str, *, locked: bool = False) -> int:
    """Sessions running ``statement`` (a LIKE pattern), only those waiting on a lock if
    ``locked``."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE :statement"
    if locked:
        query += " AND wait_event_type = 'Lock'"
    return int(conn.execute(sa.text(query), {"statement": statement}).scalar_one())


def _rename(url: str, headers: dict[str, str]) -> None:
    try:
        httpx.put(url, json={"name": "after"}, headers=headers, timeout=60)
    except httpx.HTTPError:
        pass  # the API was killed under it
