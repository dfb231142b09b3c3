"""The index and Temporal do not drift when either fails part-way (docs/decisions.md, "Index
and Temporal")."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, ScheduleDescription
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.runs import RunRecorder
from activities.tick import TickActivities
from api.app import create_app
from api.core.index.models import Job
from api.core.settings import Settings
from api.core.temporal import packaged_binary
from domain import search_attributes
from domain.contract.tick import ReconcileInput
from tests.helpers.api import JOBS, Api, create, job_body


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_temporal_unreachable_is_a_503_and_writes_nothing(settings: Settings) -> None:
    settings.temporal_address = f"127.0.0.1:{closed_port()}"
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            api = Api(app, http)
            alice = await api.headers("alice")
            response = await http.post(JOBS, json=job_body(), headers=alice)
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "unavailable"
            assert "Traceback" not in response.text
            # Lists are served from the index and keep working without Temporal.
            listed = await http.get(JOBS, headers=alice)
            assert listed.status_code == 200 and listed.json() == {"jobs": [], "count": 0}


async def test_temporal_failing_mid_operation_leaves_no_orphan(settings: Settings) -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=packaged_binary("temporal"),
        search_attributes=search_attributes.ALL,
    )
    settings.temporal_address = env.client.service_client.config.target_host
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            api = Api(app, http)
            alice = await api.headers("alice")
            kept = await http.post(JOBS, json=job_body(name="kept"), headers=alice)
            assert kept.status_code == 201
            job_id = kept.json()["id"]

            await env.shutdown()  # Temporal goes away after the client connected

            created = await http.post(JOBS, json=job_body(name="lost"), headers=alice)
            assert created.status_code == 503
            paused = await http.post(f"{JOBS}/{job_id}/pause", headers=alice)
            assert paused.status_code == 503
            deleted = await http.delete(f"{JOBS}/{job_id}", headers=alice)
            assert deleted.status_code == 503

            listed = (await http.get(JOBS, headers=alice)).json()
            assert [j["name"] for j in listed["jobs"]] == ["kept"]
            assert listed["jobs"][0]["status"] == "active"


class CommitFault:
    """Fails the index's next COMMIT of a transaction that ran ``verb`` on ``jobs``, once.

    The connection drops instead of committing and SQLAlchemy's error for that is raised, so
    nothing is committed and the app sees what a real outage of the database looks like.
    """

    def __init__(self) -> None:
        self.verb: str | None = None
        self.fired = 0
        self.inserted_ids: list[str] = []

    def arm(self, verb: Literal["INSERT", "UPDATE", "DELETE"]) -> None:
        """Fail the next commit of a transaction that ran ``verb`` on the jobs table."""
        self.verb = verb

    def noted(
        self,
        conn: sa.Connection,
        _cursor: Any,
        statement: str,
        _parameters: Any,
        context: Any,
        _executemany: bool,
    ) -> None:
        if self.verb and re.match(rf"\s*{self.verb}\s+(INTO\s+|FROM\s+)?jobs\b", statement, re.I):
            conn.info[_WROTE_JOBS] = True
            if self.verb == "INSERT":
                self.inserted_ids += [params["id"] for params in context.compiled_parameters]

    def commit(self, conn: sa.Connection) -> None:
        if self.verb and conn.info.pop(_WROTE_JOBS, False):
            self.verb = None
            self.fired += 1
            # Dropping the connection is what discards the transaction; raising alone would
            # leave it open on a pooled connection for its next user to commit.
            conn.invalidate()
            raise OperationalError("COMMIT", None, ConnectionError("connection lost (injected)"))

    @staticmethod
    def rollback(conn: sa.Connection) -> None:
        conn.info.pop(_WROTE_JOBS, None)


_WROTE_JOBS = "test_wrote_jobs"


@pytest.fixture
def commit_fault(api: Api) -> Iterator[CommitFault]:
    """A CommitFault hooked to the app's index engine for one test."""
    engine: AsyncEngine = api.state.sessions.kw["bind"]
    fault = CommitFault()
    hooks: list[tuple[str, Any]] = [
        ("after_cursor_execute", fault.noted),
        ("commit", fault.commit),
        ("rollback", fault.rollback),
    ]
    for name, hook in hooks:
        sa.event.listen(engine.sync_engine, name, hook)
    try:
        yield fault
    finally:
        for name, hook in hooks:
            sa.event.remove(engine.sync_engine, name, hook)


async def described(client: Client, schedule_id: str) -> ScheduleDescription | None:
    try:
        return await client.get_schedule_handle(schedule_id).describe()
    except RPCError as exc:
        assert exc.status == RPCStatusCode.NOT_FOUND
        return None


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {
        "error": "unavailable",
        "message": "The index database is unavailable",
        "status": 503,
    }


async def test_create_whose_index_commit_fails_writes_neither_side(
    api: Api, commit_fault: CommitFault, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    await create(api, alice, name="kept")

    commit_fault.arm("INSERT")
    assert_unavailable(await api.http.post(JOBS, json=job_body(name="lost"), headers=alice))
    assert commit_fault.fired == 1
    [lost_id] = commit_fault.inserted_ids

    # The row is committed before the schedule is created, so the schedule never was.
    assert await described(temporal_client, lost_id) is None
    listed = (await api.http.get(JOBS, headers=alice)).json()
    assert [j["name"] for j in listed["jobs"]] == ["kept"] and listed["count"] == 1
    async with api.state.sessions() as session:
        assert await session.get(Job, lost_id) is None


async def test_update_whose_index_commit_fails_puts_the_schedule_back(
    api: Api, commit_fault: CommitFault, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    url = f"{JOBS}/{job['id']}"
    handle = temporal_client.get_schedule_handle(job["id"])
    before = await handle.describe()
    new_schedule = {"type": "cron", "expression": "30 9 * * *", "timezone": "Europe/Paris"}

    commit_fault.arm("UPDATE")
    assert_unavailable(await api.http.put(url, json={"schedule": new_schedule}, headers=alice))
    after = await handle.describe()
    assert after.info.last_updated_at != before.info.last_updated_at  # changed, then undone
    assert after.schedule.spec == before.schedule.spec

    commit_fault.arm("UPDATE")
    assert_unavailable(await api.http.post(f"{url}/pause", headers=alice))
    assert commit_fault.fired == 2
    after = await handle.describe()
    assert after.schedule.state == before.schedule.state and not after.schedule.state.paused
    assert after.schedule.spec == before.schedule.spec
    assert after.schedule.policy == before.schedule.policy
    unchanged = (await api.http.get(url, headers=alice)).json()
    assert unchanged == job
    assert datetime.fromisoformat(unchanged["next_run_at"]) == after.info.next_action_times[0]

    # Nothing is left stuck: the same update goes through once the index is back.
    updated = await api.http.put(url, json={"schedule": new_schedule}, headers=alice)
    assert updated.status_code == 200, updated.text
    assert (await handle.describe()).schedule.spec.time_zone_name == "Europe/Paris"


async def test_delete_whose_purge_fails_leaves_a_row_the_tick_purges(
    api: Api, commit_fault: CommitFault, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    url = f"{JOBS}/{job['id']}"

    commit_fault.arm("DELETE")
    # The row was marked deleted before the schedule went: the delete has happened, and only
    # the purge of its rows is left over. The job is gone for its owner, none left in Temporal...
    assert (await api.http.delete(url, headers=alice)).status_code == 204
    assert commit_fault.fired == 1
    assert await described(temporal_client, job["id"]) is None
    assert (await api.http.get(url, headers=alice)).status_code == 404
    assert (await api.http.delete(url, headers=alice)).status_code == 404
    assert (await api.http.get(JOBS, headers=alice)).json() == {"jobs": [], "count": 0}
    async with api.state.sessions() as session:
        row = await session.get(Job, job["id"])
        assert row is not None and row.deleted_at is not None

    # ...and the row left marked deleted is what the tick purges.
    engine = api.state.sessions.kw["bind"]
    recorder = RunRecorder(engine, temporal_client)
    tick = TickActivities(engine, temporal_client, api.state.settings, recorder=recorder)
    result = await ActivityEnvironment().run(
        tick.reconcile, ReconcileInput(workflow_id="test-tick", grace_seconds=0)
    )
    assert result.repairs == {"deleted_jobs_purged": 1}
    async with api.state.sessions() as session:
        assert await session.get(Job, job["id"]) is None
