"""``Idempotency-Key`` on POST /jobs, POST /jobs/{job_id}/trigger and POST /chains: a retry gets
the first answer, across API processes and restarts, and simultaneous retries create once."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import col
from temporalio.client import Client
from temporalio.testing import ActivityEnvironment

from activities.runs import RunRecorder
from activities.tick import TickActivities
from api.core.index.db import make_engine
from api.core.index.models import IdempotencyKey, Run
from api.core.index.runs import insert_manual_run
from api.core.settings import Settings
from api.core.temporal import TemporalConnection
from api.routing import parse_json_body
from api.services.idempotency import fingerprint
from domain.contract.tick import ReconcileInput
from tests.helpers.api import Api, wait_finished
from tests.helpers.processes import free_ports
from tests.helpers.served import served

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


async def test_a_number_written_another_way_is_the_same_body(api: Api) -> None:
    # docs/api.md, "Idempotent requests": the same JSON value; 60.0 is the integer 60.
    alice = await api.headers("alice")
    first = await api.http.post(
        f"{PREFIX}/jobs", json=_job(timeout_seconds=60), headers=_keyed(alice, "n")
    )
    assert first.status_code == 201, first.text
    sent = json.dumps(_job(timeout_seconds=0))
    for number in ("60.0", "6e1", "600E-1", "60.000"):
        again = await api.http.post(
            f"{PREFIX}/jobs",
            content=sent.replace('"timeout_seconds": 0', f'"timeout_seconds": {number}'),
            headers={**_keyed(alice, "n"), "Content-Type": "application/json"},
        )
        assert again.status_code == 201, (number, again.text)
        assert again.headers["Idempotent-Replayed"] == "true", number
        assert again.json() == first.json()
    # A string is not the number: refused as any such body (strict numbers), and nothing done.
    text = await api.http.post(
        f"{PREFIX}/jobs", json=_job(timeout_seconds="60"), headers=_keyed(alice, "n")
    )
    assert text.status_code == 422
    assert await _job_count(api, alice) == 1


@pytest.mark.parametrize(
    ("first", "then"),
    [({"n": 60}, {"n": "60"}), ({"n": True}, {"n": 1}), ({"n": 1}, {"n": 1.5})],
    ids=["number-string", "boolean-number", "integer-fraction"],
)
async def test_another_json_value_is_another_body(
    api: Api, first: dict[str, Any], then: dict[str, Any]
) -> None:
    # A trigger reads no body, so any JSON reaches the fingerprint as sent.
    alice = await api.headers("alice")
    job_id = (await api.http.post(f"{PREFIX}/jobs", json=_job(), headers=alice)).json()["id"]
    url = f"{PREFIX}/jobs/{job_id}/trigger"
    triggered = await api.http.post(url, json=first, headers=_keyed(alice, "t"))
    assert triggered.status_code == 202, triggered.text
    same = await api.http.post(url, content=f" {json.dumps(first)}\n", headers=_keyed(alice, "t"))
    assert same.status_code == 202 and same.headers["Idempotent-Replayed"] == "true"
    other = await api.http.post(url, json=then, headers=_keyed(alice, "t"))
    assert other.status_code == 409, other.text
    assert "already used for a different request" in other.json()["message"]


async def test_a_keyed_body_with_a_lone_surrogate_is_refused_as_without_a_key(api: Api) -> None:
    # "\ud800" is JSON that reads as no Unicode text: the fingerprint takes it, validation refuses.
    alice = await api.headers("alice")
    sent = json.dumps(_job(name="a\ud800"))
    headers = {**_keyed(alice, "s"), "Content-Type": "application/json"}
    refused = await api.http.post(f"{PREFIX}/jobs", content=sent, headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["details"][0]["field"] == "name"


def _fingerprint_before_values(path: str, body: dict[str, Any]) -> str:
    """The fingerprint keys were stored with before numbers counted by value (as written)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"POST {path}\n{text}".encode()).hexdigest()


async def test_a_key_stored_before_numbers_counted_by_value_still_replays(api: Api) -> None:
    alice = await api.headers("alice")
    body = _job(timeout_seconds=60.0)
    before = _fingerprint_before_values(f"{PREFIX}/jobs", body)
    assert before != fingerprint("POST", f"{PREFIX}/jobs", body)
    now = datetime.now(UTC)
    died = now - timedelta(seconds=61)
    async with api.state.sessions() as session:
        session.add_all(
            [
                IdempotencyKey(
                    owner="alice",
                    key="answered",
                    fingerprint=before,
                    created_at=now,
                    claimed_at=now,
                    status_code=201,
                    response='{"id": "job_first"}',
                ),
                IdempotencyKey(
                    owner="alice",
                    key="orphan",
                    fingerprint=before,
                    created_at=died,
                    claimed_at=died,
                ),
            ]
        )
        await session.commit()
    replayed = await api.http.post(f"{PREFIX}/jobs", json=body, headers=_keyed(alice, "answered"))
    assert replayed.status_code == 201, replayed.text
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json() == {"id": "job_first"}
    other = await api.http.post(
        f"{PREFIX}/jobs", json=_job("b", timeout_seconds=60.0), headers=_keyed(alice, "answered")
    )
    assert other.status_code == 409
    # An abandoned claim is taken over by the same request, which then replays by value.
    taken = await api.http.post(f"{PREFIX}/jobs", json=body, headers=_keyed(alice, "orphan"))
    assert taken.status_code == 201 and "Idempotent-Replayed" not in taken.headers
    again = await api.http.post(
        f"{PREFIX}/jobs", json=_job(timeout_seconds=60), headers=_keyed(alice, "orphan")
    )
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == taken.json()["id"]
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


# The fingerprint's JSON equality, property-tested (docs/api.md, "Idempotent requests").
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from([0.0, -0.0, 1.0, 1.5, 2.0, 1e22, 2**53 + 1]),
    st.sampled_from(["", "1", "true", "é", "\u0000x"]),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "é"]), inner, max_size=3)
    ),
    max_leaves=8,
)


def _same(a: Any, b: Any) -> bool:
    """Equal JSON values: numbers by value, never equal to a boolean or a string."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _written(value: Any, style: int) -> str:
    """``value`` as JSON text written one of several ways: spaces, key order, escapes, and an
    integer as ``2``, ``2.0``, ``2e0`` or ``20E-1``."""
    if isinstance(value, dict):
        items = sorted(value.items(), reverse=style % 2 == 1)
        inner = " ,\n".join(
            f"{json.dumps(k, ensure_ascii=style % 3 == 0)} : {_written(v, style + i)}"
            for i, (k, v) in enumerate(items)
        )
        return "{ " + inner + " }"
    if isinstance(value, list):
        return "[" + ",\t".join(_written(v, style + i) for i, v in enumerate(value)) + "]"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 2**53:
        # (Past 2**53 a number written with a fraction is read as the nearest double.)
        return [f"{value}", f"{value}.0", f"{value}e0", f"{value * 10}E-1"][style % 4]
    return json.dumps(value, ensure_ascii=style % 3 == 0)


@given(_VALUES, _VALUES)
def test_two_bodies_have_one_fingerprint_exactly_when_they_are_the_same_value(
    a: Any, b: Any
) -> None:
    same = fingerprint("POST", "/p", a) == fingerprint("POST", "/p", b)
    assert same == _same(a, b)


@given(_VALUES, st.integers(0, 11))
def test_how_a_body_is_written_does_not_change_its_fingerprint(value: Any, style: int) -> None:
    text = _written(value, style)
    expected = fingerprint("POST", "/p", value)
    # As a route reads it (parsed), and as sent to one that reads no body (bytes).
    assert fingerprint("POST", "/p", parse_json_body(text.encode())) == expected
    assert fingerprint("POST", "/p", text.encode()) == expected
    assert fingerprint("POST", "/q", value) != expected
