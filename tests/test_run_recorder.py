"""The run recorder under load: ends written together are each counted once, on both indexes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.runs import RunRecorder
from api.core.index.db import make_engine, migrate
from api.core.index.models import jobs, runs
from domain.contract.runs import RunFinish, RunFinished

STARTED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    migrate(database_url)
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def seed(engine: AsyncEngine, *, runs_of_job: int, max_failures: int) -> list[str]:
    """One active job and its running runs; returns the run ids in start order."""
    run_ids = [f"run_{i:04d}" for i in range(runs_of_job)]
    async with engine.begin() as conn:
        await conn.execute(
            jobs.insert().values(
                id="job_load",
                owner="alice",
                name="load",
                goal="g",
                agent_id="echo",
                schedule={"type": "every", "interval": 60, "timezone": "UTC"},
                timezone="UTC",
                status="active",
                timeout_seconds=60,
                overlap="allow_all",
                max_consecutive_failures=max_failures,
                consecutive_failures=0,
                run_count=0,
                created_at=STARTED,
                updated_at=STARTED,
            )
        )
        await conn.execute(
            runs.insert(),
            [
                {
                    "id": run_id,
                    "job_id": "job_load",
                    "owner": "alice",
                    "trigger": "manual",
                    "status": "running",
                    "started_at": STARTED + timedelta(seconds=i),
                    "attempts": 0,
                }
                for i, run_id in enumerate(run_ids)
            ],
        )
    return run_ids


def finish(run_id: str, status: str, **extra: object) -> RunFinish:
    return RunFinish.model_validate(
        {
            "run_id": run_id,
            "temporal_run_id": f"t-{run_id}",
            "job_id": "job_load",
            "status": status,
            "completed_at": STARTED + timedelta(minutes=5),
            "output": f"out {run_id}",
            **extra,
        }
    )


async def record_all(recorder: RunRecorder, ends: list[RunFinish]) -> list[RunFinished]:
    """Record every end at once, as many workflows finishing together do."""
    env = ActivityEnvironment()
    return list(await asyncio.gather(*(env.run(recorder.record_finish, end) for end in ends)))


async def test_ends_arriving_together_are_each_counted_once(
    engine: AsyncEngine, temporal_client: Client
) -> None:
    run_ids = await seed(engine, runs_of_job=60, max_failures=5)
    statuses = ["completed"] * 50 + ["failed"] * 10
    recorder = RunRecorder(engine, temporal_client)

    results = await record_all(
        recorder, [finish(r, s) for r, s in zip(run_ids, statuses, strict=True)]
    )
    # A second delivery of every end (an activity retried after a lost reply) changes nothing.
    again = await record_all(
        recorder, [finish(r, "completed") for r in run_ids[:10] + run_ids[-10:]]
    )

    async with engine.connect() as conn:
        job = (await conn.execute(sa.select(jobs).where(jobs.c.id == "job_load"))).one()
        recorded = dict(
            (await conn.execute(sa.select(runs.c.id, runs.c.status).order_by(runs.c.id))).all()
        )
    assert recorded == dict(zip(run_ids, statuses, strict=True))
    assert job.run_count == 60 and job.consecutive_failures == 10
    assert job.last_run_at == STARTED + timedelta(seconds=59)
    # The fifth failure in a row paused the job, once, and says so.
    assert job.status == "paused"
    assert job.paused_reason == "paused after 5 consecutive failed runs"
    assert [r.auto_paused for r in results].count(True) == 1
    assert results[54].auto_paused and results[54].job_status == "paused"
    assert results[0].job_status == "active"
    assert again == [RunFinished()] * 20


async def test_a_bad_end_is_recorded_without_its_answer_and_fails_no_other(
    engine: AsyncEngine, temporal_client: Client
) -> None:
    """An end the index cannot store as it is (data that is no JSON) is recorded once without
    the answer, saying why, instead of failing on every retry and holding its workflow; the
    ends written in the same batch are written as they are."""
    run_ids = await seed(engine, runs_of_job=20, max_failures=0)
    recorder = RunRecorder(engine, temporal_client)
    ends = [finish(r, "completed") for r in run_ids]
    # A set is not JSON: its statement fails on either database, on every retry.
    ends[7] = finish(run_ids[7], "completed", data={"bad": {1, 2}})

    env = ActivityEnvironment()
    outcomes = await asyncio.gather(*(env.run(recorder.record_finish, end) for end in ends))

    assert all(o.recorded for o in outcomes)
    async with engine.connect() as conn:
        recorded = {row.id: row for row in await conn.execute(sa.select(runs))}
        run_count = (
            await conn.execute(sa.select(jobs.c.run_count).where(jobs.c.id == "job_load"))
        ).scalar_one()
    assert all(recorded[r].status == "completed" for r in run_ids)
    bad = recorded[run_ids[7]]
    assert bad.output is None and bad.data is None
    why = "the index could not store this run's answer (TypeError); it was dropped"
    assert bad.error == why and bad.answer_notes == [why]
    assert all(recorded[r].output == f"out {r}" for r in run_ids if r != run_ids[7])
    assert run_count == 20


async def test_two_recorders_ending_the_same_runs_count_each_once(
    engine: AsyncEngine, database_url: str, temporal_client: Client
) -> None:
    """Two workers' recorders (the run's own and a tick's repair) racing on the same runs.

    Each has its own connections, so only the index's row locks keep them from both reading a
    run as ``running``, or both reading the job's counters before either writes them.
    """
    run_ids = await seed(engine, runs_of_job=40, max_failures=0)
    other_engine = make_engine(database_url)
    try:
        ours, theirs = (
            RunRecorder(engine, temporal_client),
            RunRecorder(other_engine, temporal_client),
        )
        env = ActivityEnvironment()
        results = await asyncio.gather(
            *(
                env.run(recorder.record_finish, finish(run_id, "completed"))
                for pair in zip(run_ids, reversed(run_ids), strict=True)
                for recorder, run_id in zip((ours, theirs), pair, strict=True)
            )
        )
    finally:
        await other_engine.dispose()

    async with engine.connect() as conn:
        run_count = (
            await conn.execute(sa.select(jobs.c.run_count).where(jobs.c.id == "job_load"))
        ).scalar_one()
    assert [r.recorded for r in results].count(True) == len(run_ids)
    assert run_count == len(run_ids)
