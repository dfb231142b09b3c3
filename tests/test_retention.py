"""Retention (docs/operations.md, "Retention"): the tick prunes rows older than
``AGENT_SCHEDULER_RETENTION_DAYS`` in bounded batches, never what is still read, and the API's
totals answer the same afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.runs import RunRecorder
from activities.tick import TickActivities, retention
from api.core import metrics
from api.core.index import retention as index_retention
from api.core.index.db import make_engine, migrate
from api.core.index.models import (
    chain_runs,
    deliveries_sent,
    incident_notifications,
    incidents,
    job_events,
    jobs,
    outbox,
    runs,
)
from api.core.settings import Settings
from domain.contract.tick import ReconcileInput
from tests.helpers.api import JOBS, Api, create

API = "/api/scheduler"
YEARLY = {"type": "cron", "expression": "0 8 1 1 *", "timezone": "UTC"}
NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=200)  # past the default 90 days
RECENT = NOW - timedelta(days=10)
MINUTE = timedelta(minutes=1)


def run(job_id: str, run_id: str, status: str, started: datetime, **values: Any) -> dict[str, Any]:
    """A runs row of alice's job that started at ``started`` and ended a minute later."""
    return {
        "id": run_id,
        "job_id": job_id,
        "owner": "alice",
        "trigger": "schedule",
        "status": status,
        "started_at": started,
        "completed_at": None if status == "running" else started + MINUTE,
        "attempts": 1,
        "chain_id": None,
        "delivery": None,
        "duration_seconds": None,
    } | values


def incident(incident_id: str, job_id: str, *, resolved: datetime | None) -> dict[str, Any]:
    return {
        "id": incident_id,
        "owner": "alice",
        "job_id": job_id,
        "job_name": "Daily digest",
        "kind": "failing",
        "status": "open" if resolved is None else "resolved",
        "open_key": f"{job_id}:failing" if resolved is None else None,
        "reason": "3 failed runs",
        "details": {},
        "opened_at": OLD,
        "resolved_at": resolved,
    }


def notification(incident_id: str, event: str, status: str, at: datetime) -> dict[str, Any]:
    return {
        "id": f"{incident_id}/{event}",
        "incident_id": incident_id,
        "owner": "alice",
        "event": event,
        "channel": "webhook:https://hooks.example/alerts",
        "status": status,
        "created_at": at,
        # Claimed by a sender for now: this test's ticks leave it as it is.
        "claimed_until": NOW + timedelta(days=1),
    }


def outbox_row(delivery_id: str, job_id: str, at: datetime) -> dict[str, Any]:
    return {
        "delivery_id": delivery_id,
        "owner": "alice",
        "run_id": f"{delivery_id}-run",
        "job_id": job_id,
        "job_name": "Daily digest",
        "channel": "slack:#news",
        "provider": "slack",
        "format": "markdown",
        "content": {"texts": ["hi"], "mrkdwn": True, "truncated": False},
        "created_at": at,
    }


async def ids(engine: AsyncEngine, table: sa.Table, column: str = "id") -> set[Any]:
    async with engine.connect() as conn:
        return set((await conn.execute(sa.select(table.c[column]))).scalars())


async def answers(api: Api, headers: dict[str, str], job_ids: list[str]) -> list[Any]:
    """What the user sees of the totals: stats over a year and a week, the heatmap, each job
    and its last run."""
    urls = [f"{API}/stats?days=365", f"{API}/stats", f"{API}/smart/heatmap?days=365"]
    for job_id in job_ids:
        urls += [f"{JOBS}/{job_id}", f"{JOBS}/{job_id}/stats"]
    found = []
    for url in urls:
        response = await api.http.get(url, headers=headers)
        assert response.status_code == 200, (url, response.text)
        body = response.json()
        # A job's stats count the runs kept (docs/operations.md, "Retention"): its last run
        # is what stays the same.
        found.append(body["last_run"] if url.endswith("/stats") and "jobs/" in url else body)
    return found


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine of the test's index, for the tick and for rows written as they were long ago."""
    engine = make_engine(settings.resolved_database_url)
    yield engine
    await engine.dispose()


async def test_the_tick_prunes_old_rows_in_batches_and_keeps_what_is_still_read(
    api: Api,
    settings: Settings,
    temporal_client: Client,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(retention, "BATCH", 3)
    # The API counts its callers' minutes as activity by the wall clock, in the background:
    # the reads compared below would add one to the heatmap between them whenever the wall
    # clock is still in NOW's quarter hour. Only what pruning does is compared here.
    monkeypatch.setattr(api.app.state.activity, "note", lambda owner: None)
    alice = await api.headers("alice")
    api.pin(NOW)
    a, b = [(await create(api, alice, schedule=YEARLY))["id"] for _ in range(2)]
    delivered = {"delivery": {"status": "delivered"}, "duration_seconds": 4.0}
    # a: outcomes for the totals; its latest run is skipped, its latest other one cancelled.
    a_runs = [("completed", 60.0), ("failed", 30.5), ("timed_out", None), ("skipped", None)]
    a_runs += [("cancelled", None), ("skipped", None), ("skipped", None)]
    rows = [
        *[
            run(a, f"a{i}", status, OLD + 5 * i * MINUTE, duration_seconds=duration)
            for i, (status, duration) in enumerate(a_runs, 1)
        ],
        # b: two runs of a chain, the second in its last chain run; six delivered runs, of which
        # only-news compares a new output with the last five; a recent run.
        run(b, "c1", "completed", OLD + MINUTE, chain_id="chn_x", duration_seconds=1.0),
        run(b, "c2", "completed", OLD + 11 * MINUTE, chain_id="chn_x", duration_seconds=2.0),
        *[run(b, f"d{i}", "completed", OLD + timedelta(hours=i), **delivered) for i in range(1, 7)],
        run(b, "b_recent", "completed", RECENT, duration_seconds=8.0),
    ]
    chain = {"chain_id": "chn_x", "owner": "alice", "trigger": "schedule", "status": "completed"}
    async with engine.begin() as conn:
        await conn.execute(runs.insert(), rows)
        await conn.execute(
            chain_runs.insert(),
            [
                chain | {"id": f"cr{i}", "started_at": at, "completed_at": at, "nodes": []}
                for i, at in [(1, OLD), (2, OLD + 10 * MINUTE)]
            ],
        )
        await conn.execute(
            job_events.insert(),
            [
                {"job_id": a, "at": at, "kind": kind, "by": "api", "reason": None}
                for at, kind in [(OLD, "paused"), (OLD + MINUTE, "resumed"), (RECENT, "paused")]
            ],
        )
        await conn.execute(
            outbox.insert(), [outbox_row("old", b, OLD), outbox_row("recent", b, RECENT)]
        )
        await conn.execute(
            incidents.insert(),
            [
                incident("inc_gone", a, resolved=OLD + MINUTE),
                incident("inc_open", b, resolved=None),
                incident("inc_pending", a, resolved=OLD + MINUTE),
                incident("inc_recent", a, resolved=RECENT),
            ],
        )
        await conn.execute(
            incident_notifications.insert(),
            [
                notification("inc_gone", "opened", "sent", OLD),
                notification("inc_gone", "resolved", "failed", OLD + MINUTE),
                notification("inc_pending", "resolved", "pending", OLD + MINUTE),
            ],
        )
    events = [{"at": (OLD + timedelta(days=100, hours=h)).isoformat(), "kind": "x"} for h in (1, 9)]
    response = await api.http.post(f"{API}/smart/activity", json={"events": events}, headers=alice)
    assert response.status_code == 201, response.text

    tick = TickActivities(
        engine,
        temporal_client,
        settings,
        recorder=RunRecorder(engine, temporal_client),
        clock=lambda: NOW,
    )
    env = ActivityEnvironment()
    runs_before = await ids(engine, runs)

    async def ticked() -> set[str]:
        await env.run(tick.reconcile, ReconcileInput(workflow_id="t", grace_seconds=0))
        return await ids(engine, runs)

    def pruned_runs() -> float:
        value = metrics.WORKER.get_sample_value(
            "agent_scheduler_pruned_rows_total", {"table": "runs"}
        )
        return value or 0.0

    # 0 keeps everything.
    settings.retention_days = 0
    assert await ticked() == runs_before
    seen = await answers(api, alice, [a, b])
    assert seen[0]["success_rate"] == 0.8333  # 10 of 12 outcomes over the year, 11 of them old

    settings.retention_days = 90
    counted = pruned_runs()
    after = [await ticked() for _ in range(4)]
    gone = {"a1", "a2", "a3", "a4", "a6", "c1", "d1"}
    # A batch of 3 runs a tick: 3, 3, 1, then a tick finding nothing.
    assert [len(runs_before - left) for left in after] == [3, 6, 7, 7]
    assert after[-1] == runs_before - gone
    assert pruned_runs() - counted == len(gone)
    assert await answers(api, alice, [a, b]) == seen
    assert await ids(engine, chain_runs) == {"cr2"}
    kept_events = await ids(engine, job_events, "at")
    assert kept_events == {OLD + MINUTE, RECENT}  # the state the job was in from then on
    assert await ids(engine, outbox, "delivery_id") == {"recent"}
    assert await ids(engine, incidents) == {"inc_open", "inc_pending", "inc_recent"}
    assert await ids(engine, incident_notifications) == {"inc_pending/resolved"}
    # The pruned runs are gone from the API too; the kept ones are there.
    for job_id, run_id, status in [(a, "a1", 404), (a, "a7", 200), (b, "d2", 200)]:
        response = await api.http.get(f"{JOBS}/{job_id}/runs/{run_id}", headers=alice)
        assert response.status_code == status, response.text


async def test_a_run_running_or_being_delivered_again_is_never_pruned(database_url: str) -> None:
    migrate(database_url)
    engine = make_engine(database_url)
    rows = [
        run("job_a", "running", "running", OLD - timedelta(days=300)),
        run("job_a", "redelivered", "completed", OLD - timedelta(days=1)),
        run("job_a", "later", "completed", OLD),
        run("job_a", "last", "completed", NOW - MINUTE),
    ]
    try:
        async with engine.begin() as conn:
            await conn.execute(
                jobs.insert().values(
                    id="job_a",
                    owner="alice",
                    name="Daily digest",
                    goal="Summarize",
                    agent_id="echo",
                    schedule=YEARLY,
                    timezone="UTC",
                    status="active",
                    timeout_seconds=60,
                    overlap="skip",
                    max_consecutive_failures=3,
                    created_at=OLD,
                    updated_at=OLD,
                )
            )
            await conn.execute(runs.insert(), rows)
            await conn.execute(
                deliveries_sent.insert().values(
                    delivery_id="redelivered/redeliver/1", run_id="redelivered", updated_at=NOW
                )
            )
            pruned = await index_retention.prune_runs(conn, before=NOW, limit=10, keep_delivered=1)
        assert pruned == 1
        assert await ids(engine, runs) == {"running", "redelivered", "last"}
    finally:
        await engine.dispose()


def test_retention_is_0_or_at_least_a_month() -> None:
    assert Settings(retention_days=0).retention_days == 0
    assert Settings().retention_days == 90
    with pytest.raises(ValidationError, match="at least 32 days"):
        Settings(retention_days=7)
