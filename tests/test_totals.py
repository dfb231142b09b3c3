"""The totals kept by database triggers (migration 0005_totals) on SQLite and PostgreSQL.

``run_hours`` and ``job_counts`` must equal what counting ``runs`` and ``jobs`` gives after any
sequence of writes, and the migration must count in the rows that existed before it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from api.core.index.db import alembic_config, migrate, sync_url
from api.core.index.models import job_counts, jobs, run_hours, runs

START = datetime(2027, 3, 27, 22, 0, tzinfo=UTC)
OWNERS = ["alice", "bob"]
JOB_STATUSES = ["active", "paused", "completed", "failed"]
RUN_STATUSES = ["running", "completed", "failed", "timed_out", "cancelled", "skipped"]


def expected_run_hours(conn: sa.Connection) -> dict[tuple[str, int], tuple[int, int, int, float]]:
    """Counted from the runs themselves, in Python."""
    found: dict[tuple[str, int], tuple[int, int, int, float]] = {}
    for owner, status, completed_at, duration in conn.execute(
        sa.select(runs.c.owner, runs.c.status, runs.c.completed_at, runs.c.duration_seconds)
    ):
        if completed_at is None or status not in ("completed", "failed", "timed_out"):
            continue
        key = (owner, int(completed_at.timestamp()) // 3600)
        n, ok, timed, total = found.get(key, (0, 0, 0, 0.0))
        found[key] = (
            n + 1,
            ok + (status == "completed"),
            timed + (duration is not None),
            total + (duration or 0.0),
        )
    return found


def stored_run_hours(conn: sa.Connection) -> dict[tuple[str, int], tuple[int, int, int, float]]:
    """The trigger-kept totals, without the hours that went back to nothing."""
    return {
        (owner, hour): (n, ok, timed, total)
        for owner, hour, n, ok, timed, total in conn.execute(sa.select(run_hours))
        if n
    }


def expected_job_counts(conn: sa.Connection) -> dict[tuple[str, str], int]:
    rows = conn.execute(
        sa.select(jobs.c.owner, jobs.c.status, sa.func.count())
        .where(jobs.c.deleted_at.is_(None))
        .group_by(jobs.c.owner, jobs.c.status)
    )
    return {(owner, status): int(n) for owner, status, n in rows}


def stored_job_counts(conn: sa.Connection) -> dict[tuple[str, str], int]:
    rows = conn.execute(sa.select(job_counts).where(job_counts.c.count != 0))
    return {(owner, status): int(n) for owner, status, n in rows}


def assert_totals_agree(conn: sa.Connection) -> None:
    assert stored_job_counts(conn) == expected_job_counts(conn)
    stored, expected = stored_run_hours(conn), expected_run_hours(conn)
    assert stored.keys() == expected.keys()
    for key, (n, ok, timed, total) in expected.items():
        assert stored[key][:3] == (n, ok, timed), key
        assert stored[key][3] == pytest.approx(total, abs=1e-9), key


def job_row(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "id": f"job_{i}",
        "owner": rng.choice(OWNERS),
        "name": f"job {i}",
        "goal": "g",
        "agent_id": "echo",
        "schedule": {"type": "every", "interval": 60},
        "timezone": "UTC",
        "status": rng.choice(JOB_STATUSES),
        "timeout_seconds": 60,
        "overlap": "skip",
        "max_consecutive_failures": 5,
        "consecutive_failures": 0,
        "run_count": 0,
        "created_at": START,
        "updated_at": START,
        "deleted_at": START if rng.random() < 0.1 else None,
    }


def run_row(rng: random.Random, i: int) -> dict[str, Any]:
    started = START + timedelta(seconds=rng.randrange(6 * 3600))
    status = rng.choice(RUN_STATUSES)
    finished = status != "running"
    duration = rng.choice([None, rng.uniform(0.1, 900.0)]) if finished else None
    return {
        "id": f"run_{i}",
        "job_id": f"job_{rng.randrange(40)}",
        "owner": rng.choice(OWNERS),
        "trigger": "schedule",
        "status": status,
        "started_at": started,
        "completed_at": started + timedelta(seconds=duration or 1) if finished else None,
        "duration_seconds": duration,
        "attempts": 1,
    }


def test_totals_follow_every_write_to_runs_and_jobs(database_url: str) -> None:
    migrate(database_url)
    rng = random.Random(7)
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(jobs.insert(), [job_row(rng, i) for i in range(40)])
        conn.execute(runs.insert(), [run_row(rng, i) for i in range(300)])
        assert_totals_agree(conn)
        assert stored_run_hours(conn)  # the runs above do land in several hours
    for step in range(120):
        with engine.begin() as conn:
            run_id, job_id = f"run_{rng.randrange(300)}", f"job_{rng.randrange(40)}"
            change = step % 6
            if change == 0:  # a run ends, or its end is recorded again with other values
                new = run_row(rng, 0)
                conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id)
                    .values(
                        status=new["status"],
                        completed_at=new["completed_at"],
                        duration_seconds=new["duration_seconds"],
                    )
                )
            elif change == 1:  # only its delivery changes: the totals stay as they are
                conn.execute(runs.update().where(runs.c.id == run_id).values(delivery={"ok": 1}))
            elif change == 2:  # a run is dropped, or a purge takes a job's runs
                conn.execute(runs.delete().where(runs.c.id == run_id))
                conn.execute(runs.delete().where(runs.c.job_id == job_id))
            elif change == 3:  # a job changes status, or is marked deleted
                conn.execute(
                    jobs.update()
                    .where(jobs.c.id == job_id)
                    .values(status=rng.choice(JOB_STATUSES), updated_at=START)
                )
                conn.execute(
                    jobs.update().where(jobs.c.id == job_id).values(deleted_at=START)
                    if rng.random() < 0.3
                    else jobs.update().where(jobs.c.id == job_id).values(name="renamed")
                )
            elif change == 4:  # a job is purged and another one made
                conn.execute(jobs.delete().where(jobs.c.id == job_id))
                conn.execute(jobs.insert().values(**job_row(rng, 100 + step)))
            else:  # runs recorded late by the tick
                conn.execute(runs.insert(), [run_row(rng, 1000 + step * 3 + k) for k in range(3)])
        if step % 10 == 9:
            with engine.connect() as conn:
                assert_totals_agree(conn)
    with engine.connect() as conn:
        assert_totals_agree(conn)
    engine.dispose()


def test_migration_counts_in_the_rows_already_there(database_url: str) -> None:
    migrate(database_url)
    command.downgrade(alembic_config(database_url), "0004_insight")
    rng = random.Random(11)
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        assert not sa.inspect(conn).has_table("run_hours")
        # The tables as they were then: later columns with defaults are not there yet.
        then = sa.MetaData()
        then.reflect(conn, only=["jobs", "runs"])
        conn.execute(then.tables["jobs"].insert(), [job_row(rng, i) for i in range(30)])
        conn.execute(then.tables["runs"].insert(), [run_row(rng, i) for i in range(200)])
    migrate(database_url)
    with engine.begin() as conn:
        assert_totals_agree(conn)
        assert stored_job_counts(conn) and stored_run_hours(conn)
        # And the triggers run from there on.
        conn.execute(runs.delete().where(runs.c.owner == "alice"))
        conn.execute(jobs.update().where(jobs.c.owner == "bob").values(status="paused"))
        assert_totals_agree(conn)
    engine.dispose()
