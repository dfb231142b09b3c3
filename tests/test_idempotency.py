"""``Idempotency-Key`` on POST /jobs, POST /jobs/{job_id}/trigger and POST /chains: a retry gets
the first answer, across API processes and restarts, and simultaneous retries create once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.runs import RunRecorder
from activities.tick import ReconcileInput, TickActivities
from api.core.index.db import make_engine
from api.core.index.models import IdempotencyKey, Run
from api.core.index.runs import insert_manual_run
from api.core.settings import Settings
from api.core.temporal import TemporalConnection
from api.services.idempotency import fingerprint
from tests.conftest import Api, wait_finished
from tests.resources import free_ports
from tests.served import served

PREFIX = "/api/scheduler"


def _job(name: str = "report", **extra: Any) -> dict[str, Any]:
    schedule = {"type": "cron", "expression": "0 8 * * *", "timezone": "Europe/London"}
    return {"name": name, "goal": "g", "agent_id": "echo", "schedule": schedule, **extra}


def _keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def _job_count(api: Api, headers: dict[str, str]) -> int:
    listed = await api.http.get(f"{PREFIX}/jobs", headers=headers)
    assert listed.status_code == 200, listed.text
    return int(listed.json()["count"])


async def test_a_retried_create_gets_the_first_answer_and_creates_once(api: Api) -> None:
    alice = await api.headers("alice")
    first = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "k-1"))
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    # The same JSON with its keys in another order is the same body.
    again = await api.http.post(
        f"{PREFIX}/jobs", json=dict(reversed(_job().items())), headers=_keyed(alice, "k-1")
    )
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert await _job_count(api, alice) == 1
    # Without a key, or with another one, a create creates.
    other = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "k-2"))
    plain = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=alice)
    assert other.status_code == plain.status_code == 201
    assert len({first.json()["id"], other.json()["id"], plain.json()["id"]}) == 3


async def test_the_same_key_with_another_body_is_a_409(api: Api) -> None:
    alice = await api.headers("alice")
    first = await api.http.post(f"{PREFIX}/jobs", json=_job("a"), headers=_keyed(alice, "k"))
    assert first.status_code == 201
    changed = await api.http.post(f"{PREFIX}/jobs", json=_job("b"), headers=_keyed(alice, "k"))
    assert changed.status_code == 409
    body = changed.json()
    assert body["error"] == "conflict" and body["status"] == 409
    assert "Idempotency-Key 'k' was already used for a different request" in body["message"]
    # The key of a create used on another endpoint is another request too.
    job_id = first.json()["id"]
    trigger = await api.http.post(f"{PREFIX}/jobs/{job_id}/trigger", headers=_keyed(alice, "k"))
    assert trigger.status_code == 409
    assert await _job_count(api, alice) == 1


async def test_keys_are_per_owner(api: Api) -> None:
    alice, bob = await api.headers("alice"), await api.headers("bob")
    mine = await api.http.post(f"{PREFIX}/jobs", json=_job("a"), headers=_keyed(alice, "same"))
    theirs = await api.http.post(f"{PREFIX}/jobs", json=_job("b"), headers=_keyed(bob, "same"))
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["name"] == "b" and theirs.json()["id"] != mine.json()["id"]
    # Bob's retry replays bob's answer, not alice's.
    again = await api.http.post(f"{PREFIX}/jobs", json=_job("b"), headers=_keyed(bob, "same"))
    assert again.json()["id"] == theirs.json()["id"]
    assert await _job_count(api, alice) == await _job_count(api, bob) == 1


async def test_a_retried_trigger_starts_one_run(api: Api) -> None:
    alice = await api.headers("alice")
    job_id = (await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=alice)).json()["id"]
    url = f"{PREFIX}/jobs/{job_id}/trigger"
    answers = [await api.http.post(url, headers=_keyed(alice, "run-once")) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert len({a.json()["run_id"] for a in answers}) == 1
    assert [a.headers.get("Idempotent-Replayed") for a in answers] == [None, "true", "true"]
    runs = await api.http.get(f"{PREFIX}/jobs/{job_id}/runs", headers=alice)
    assert runs.json()["count"] == 1


async def test_a_retried_chain_create_creates_one_chain(api: Api) -> None:
    alice = await api.headers("alice")
    job_id = (await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=alice)).json()["id"]
    chain = {"name": "c", "jobs": [job_id]}
    first = await api.http.post(f"{PREFIX}/chains", json=chain, headers=_keyed(alice, "c-1"))
    again = await api.http.post(f"{PREFIX}/chains", json=chain, headers=_keyed(alice, "c-1"))
    assert first.status_code == again.status_code == 201, first.text
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    chains = await api.http.get(f"{PREFIX}/chains", headers=alice)
    assert chains.json()["count"] == 1


async def test_an_error_is_not_stored_so_a_corrected_retry_runs(api: Api) -> None:
    alice = await api.headers("alice")
    bad = _job(agent_id="nobody")
    refused = await api.http.post(f"{PREFIX}/jobs", json=bad, headers=_keyed(alice, "k"))
    assert refused.status_code == 422
    again = await api.http.post(f"{PREFIX}/jobs", json=bad, headers=_keyed(alice, "k"))
    assert again.status_code == 422 and "Idempotent-Replayed" not in again.headers
    fixed = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "k"))
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed.headers
    missing = await api.http.post(f"{PREFIX}/jobs/job_nope/trigger", headers=_keyed(alice, "t"))
    assert missing.status_code == 404
    assert await _job_count(api, alice) == 1


@pytest.mark.parametrize(
    ("key", "why"),
    [(b"x" * 256, "at most 255"), (b"tab\there", "pattern"), ("é".encode(), "pattern")],
)
async def test_a_malformed_key_is_a_422_naming_the_header(api: Api, key: bytes, why: str) -> None:
    alice = await api.headers("alice")
    headers = {k.encode(): v.encode() for k, v in alice.items()}
    headers[b"Idempotency-Key"] = key
    for response in (
        await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=headers),
        await api.http.post(f"{PREFIX}/jobs/job_nope/trigger", headers=headers),
    ):
        assert response.status_code == 422, response.text
        (detail,) = response.json()["details"]
        assert detail["field"] == "Idempotency-Key"
        assert why in detail["message"]
    assert await _job_count(api, alice) == 0


async def test_a_key_expires_after_24_hours(api: Api) -> None:
    alice = await api.headers("alice")
    now = datetime.now(UTC)
    api.pin(now)
    first = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "k"))
    api.pin(now + timedelta(hours=23, minutes=59))
    replay = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "k"))
    assert replay.json()["id"] == first.json()["id"]
    api.pin(now + timedelta(hours=24, seconds=1))
    # Expired: any request may use the key again, even with another body.
    fresh = await api.http.post(f"{PREFIX}/jobs", json=_job("b"), headers=_keyed(alice, "k"))
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers
    assert fresh.json()["id"] != first.json()["id"]


async def test_the_tick_forgets_keys_older_than_24_hours(
    api: Api, settings: Settings, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    for key in ("old", "new"):
        created = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, key))
        assert created.status_code == 201
    async with api.state.sessions() as session:
        await session.execute(
            sa.update(IdempotencyKey)
            .where(col(IdempotencyKey.key) == "old")
            .values(created_at=datetime.now(UTC) - timedelta(hours=24, minutes=1))
        )
        await session.commit()
    engine = make_engine(settings.resolved_database_url)
    tick = TickActivities(
        engine, temporal_client, settings, recorder=RunRecorder(engine, temporal_client)
    )
    try:
        await ActivityEnvironment().run(
            tick.reconcile, ReconcileInput(workflow_id="t", grace_seconds=0)
        )
    finally:
        await engine.dispose()
    async with api.state.sessions() as session:
        kept = (await session.execute(sa.select(col(IdempotencyKey.key)))).scalars()
        assert list(kept) == ["new"]


async def test_replays_across_two_api_processes_and_after_a_restart(
    api: Api, settings: Settings
) -> None:
    alice = await api.headers("alice")
    headers = _keyed(alice, "agent-restart-7")
    with served(settings) as one, served(settings) as two:
        async with httpx.AsyncClient(base_url=one) as a, httpx.AsyncClient(base_url=two) as b:
            first = await a.post(f"{PREFIX}/jobs", json=_job(), headers=headers)
            assert first.status_code == 201, first.text
            second = await b.post(f"{PREFIX}/jobs", json=_job(), headers=headers)
            assert second.status_code == 201
            assert second.headers["Idempotent-Replayed"] == "true"
            assert second.json() == first.json()
            conflict = await b.post(f"{PREFIX}/jobs", json=_job("x"), headers=headers)
            assert conflict.status_code == 409
    # Both processes stopped; a new one answers the same.
    with served(settings) as three:
        async with httpx.AsyncClient(base_url=three) as c:
            third = await c.post(f"{PREFIX}/jobs", json=_job(), headers=headers)
    assert third.status_code == 201 and third.headers["Idempotent-Replayed"] == "true"
    assert third.json() == first.json()
    assert await _job_count(api, alice) == 1


async def test_simultaneous_requests_with_one_key_create_once(api: Api, settings: Settings) -> None:
    alice = await api.headers("alice")
    job_id = (await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=alice)).json()["id"]
    with served(settings) as one, served(settings) as two:
        async with httpx.AsyncClient(base_url=one) as a, httpx.AsyncClient(base_url=two) as b:
            creates = await asyncio.gather(
                *(
                    client.post(f"{PREFIX}/jobs", json=_job("c"), headers=_keyed(alice, "c"))
                    for client in (a, b) * 5
                )
            )
            triggers = await asyncio.gather(
                *(
                    client.post(f"{PREFIX}/jobs/{job_id}/trigger", headers=_keyed(alice, "t"))
                    for client in (a, b) * 5
                )
            )
    assert [r.status_code for r in creates] == [201] * 10, [r.text for r in creates]
    assert len({r.json()["id"] for r in creates}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in creates) == 9
    assert [r.status_code for r in triggers] == [202] * 10, [r.text for r in triggers]
    assert len({r.json()["run_id"] for r in triggers}) == 1
    assert await _job_count(api, alice) == 2
    runs = await api.http.get(f"{PREFIX}/jobs/{job_id}/runs", headers=alice)
    assert runs.json()["count"] == 1


async def _claim_in_progress(
    api: Api, *, owner: str, key: str, body: dict[str, Any], claimed_at: datetime
) -> None:
    """A claim as a request in progress (or one whose API process died) leaves it."""
    async with api.state.sessions() as session:
        session.add(
            IdempotencyKey(
                owner=owner,
                key=key,
                fingerprint=fingerprint("POST", f"{PREFIX}/jobs", body),
                created_at=claimed_at,
                claimed_at=claimed_at,
            )
        )
        await session.commit()


async def test_a_retry_waits_for_the_first_answer_then_replays_it(api: Api) -> None:
    alice = await api.headers("alice")
    await _claim_in_progress(
        api, owner="alice", key="slow", body=_job(), claimed_at=datetime.now(UTC)
    )
    retry = asyncio.create_task(
        api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "slow"))
    )
    await asyncio.sleep(0.5)
    assert not retry.done()  # waiting for the first request's answer
    answer = '{"id": "job_first"}'
    async with api.state.sessions() as session:
        await session.execute(
            sa.update(IdempotencyKey)
            .where(col(IdempotencyKey.key) == "slow")
            .values(status_code=201, response=answer)
        )
        await session.commit()
    replayed = await retry
    assert replayed.status_code == 201 and replayed.json() == {"id": "job_first"}
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert await _job_count(api, alice) == 0


async def test_a_retry_gets_a_409_while_the_first_is_still_in_progress(api: Api) -> None:
    alice = await api.headers("alice")
    api.state.settings.idempotency_wait_seconds = 0.3
    await _claim_in_progress(
        api, owner="alice", key="stuck", body=_job(), claimed_at=datetime.now(UTC)
    )
    response = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "stuck"))
    assert response.status_code == 409
    assert "still in progress" in response.json()["message"]
    assert await _job_count(api, alice) == 0


async def test_a_claim_whose_request_died_is_taken_over_by_the_same_request(api: Api) -> None:
    alice = await api.headers("alice")
    died = datetime.now(UTC) - timedelta(seconds=61)
    await _claim_in_progress(api, owner="alice", key="orphan", body=_job(), claimed_at=died)
    # Another body may not take it over; the same one runs.
    other = await api.http.post(f"{PREFIX}/jobs", json=_job("x"), headers=_keyed(alice, "orphan"))
    assert other.status_code == 409
    same = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "orphan"))
    assert same.status_code == 201 and "Idempotent-Replayed" not in same.headers
    again = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "orphan"))
    assert again.json()["id"] == same.json()["id"]
    assert await _job_count(api, alice) == 1


async def _answer_lost(api: Api, *, owner: str, key: str) -> None:
    """As if the key's first request died before it answered: its claim stays in progress,
    older than the lease."""
    async with api.state.sessions() as session:
        await session.execute(
            sa.update(IdempotencyKey)
            .where(col(IdempotencyKey.owner) == owner, col(IdempotencyKey.key) == key)
            .values(
                status_code=None,
                response=None,
                claimed_at=datetime.now(UTC) - timedelta(seconds=61),
            )
        )
        await session.commit()


async def test_a_retry_after_the_api_died_before_the_schedule_completes_that_job(
    api: Api, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    first = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "crash"))
    assert first.status_code == 201, first.text
    job_id = first.json()["id"]
    # The first attempt committed its row, then its process died: no schedule, no answer.
    await temporal_client.get_schedule_handle(job_id).delete()
    await _answer_lost(api, owner="alice", key="crash")
    retry = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "crash"))
    assert retry.status_code == 201, retry.text
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == job_id
    described = await temporal_client.get_schedule_handle(job_id).describe()
    assert described.id == job_id
    assert await _job_count(api, alice) == 1
    # From then on the stored answer replays.
    again = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "crash"))
    assert again.headers["Idempotent-Replayed"] == "true" and again.json()["id"] == job_id


async def test_a_retried_trigger_after_the_api_died_never_starts_a_second_run(
    api: Api, temporal_client: Client, worker: Any
) -> None:
    alice = await api.headers("alice")
    job_id = (await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=alice)).json()["id"]
    url = f"{PREFIX}/jobs/{job_id}/trigger"
    first = await api.http.post(url, headers=_keyed(alice, "t-crash"))
    assert first.status_code == 202, first.text
    run_id = first.json()["run_id"]
    await wait_finished(api, alice, f"{PREFIX}/jobs/{job_id}/runs/{run_id}")
    # Its run finished, but the answer never reached the client (the API died) and the key's
    # claim outlived its lease: the retry runs again, and Temporal refuses a second start.
    await _answer_lost(api, owner="alice", key="t-crash")
    retry = await api.http.post(url, headers=_keyed(alice, "t-crash"))
    assert retry.status_code == 202, retry.text
    assert retry.json()["run_id"] == run_id
    assert retry.headers["Idempotent-Replayed"] == "true"
    executions = await temporal_client.count_workflows(f'WorkflowId = "{run_id}"')
    assert executions.count == 1
    runs = (await api.http.get(f"{PREFIX}/jobs/{job_id}/runs", headers=alice)).json()
    assert runs["count"] == 1 and runs["runs"][0]["status"] == "completed"


async def test_after_a_5xx_the_same_request_retries_under_its_first_ids(api: Api) -> None:
    alice = await api.headers("alice")
    api.state.settings.idempotency_wait_seconds = 0.3
    reachable = api.state.temporal
    # A Temporal address nothing listens on: the create fails with a 503.
    nowhere = f"127.0.0.1:{free_ports(1)[0]}"
    down = api.state.settings.model_copy(update={"temporal_address": nowhere})
    api.state.temporal = TemporalConnection(down)
    try:
        failed = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "5xx"))
    finally:
        api.state.temporal = reachable
    assert failed.status_code == 503, failed.text
    # The key stays with that request: another body is refused, the same one runs at once.
    other = await api.http.post(f"{PREFIX}/jobs", json=_job("x"), headers=_keyed(alice, "5xx"))
    assert other.status_code == 409
    same = await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=_keyed(alice, "5xx"))
    assert same.status_code == 201, same.text
    assert await _job_count(api, alice) == 1


async def test_a_run_temporal_never_started_is_skipped_and_never_pauses_its_job(
    api: Api, settings: Settings, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    created = await api.http.post(
        f"{PREFIX}/jobs", json=_job(max_consecutive_failures=1), headers=alice
    )
    job_id = created.json()["id"]
    # The API recorded a triggered run and died before starting its workflow.
    async with api.state.sessions() as session:
        await insert_manual_run(session, run_id="run_neverstarted00", job_id=job_id, owner="alice")
        await session.execute(
            sa.update(Run)
            .where(col(Run.id) == "run_neverstarted00")
            .values(started_at=datetime.now(UTC) - timedelta(minutes=5))
        )
        await session.commit()
    engine = make_engine(settings.resolved_database_url)
    tick = TickActivities(
        engine, temporal_client, settings, recorder=RunRecorder(engine, temporal_client)
    )
    try:
        await ActivityEnvironment().run(
            tick.reconcile, ReconcileInput(workflow_id="t", grace_seconds=0)
        )
    finally:
        await engine.dispose()
    run = await api.http.get(f"{PREFIX}/jobs/{job_id}/runs/run_neverstarted00", headers=alice)
    assert run.json()["status"] == "skipped"
    assert "never started in Temporal" in run.json()["skip_reason"]
    job = (await api.http.get(f"{PREFIX}/jobs/{job_id}", headers=alice)).json()
    assert job["status"] == "active", job
    stats = (await api.http.get(f"{PREFIX}/jobs/{job_id}/stats", headers=alice)).json()
    assert stats["consecutive_failures"] == 0 and stats["success_rate"] is None, stats
    assert stats["runs_by_status"].get("failed", 0) == 0, stats
