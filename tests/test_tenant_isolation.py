"""Tenant isolation on every route (docs/api.md, "Authentication and tenancy"), generated from the
app's OpenAPI so a new route is covered automatically: with owner A's ids, owner B gets 404 on every
path and method that takes an id, and nothing of A's appears in anything B can list, count or
view."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from temporalio.worker import Worker

from api.core.index.incidents import open_incident
from api.core.index.models import jobs
from tests.helpers.api import Api, wait_finished

PREFIX = "/api/scheduler"
# The id each path parameter takes, by name; a run id is a chain run's under /chains.
COVERED_PARAMETERS = {"job_id", "run_id", "chain_id", "incident_id", "hook_id", "key_id", "at"}
# Operations that take no API key: no owner to isolate (tests/test_hooks.py covers them).
PUBLIC = {"POST /api/scheduler/hooks/{hook_id}"}
# A valid value of each path parameter that is no id.
NOT_IDS = {"at": "2030-01-07T08:00:00Z"}
# A valid body for each operation that takes one and an id (else a 422 would come first).
BODIES: dict[str, dict[str, Any]] = {
    "PUT /api/scheduler/jobs/{job_id}": {"name": "taken"},
    "POST /api/scheduler/jobs/{job_id}/skip": {"at": "2030-01-07T08:00:00Z"},
    "POST /api/scheduler/jobs/{job_id}/pause": {"reason": "not yours"},
    "POST /api/scheduler/jobs/{job_id}/backfill": {
        "start": "2026-03-01T00:00:00Z",
        "end": "2026-03-02T00:00:00Z",
    },
}
# Required query values of operations with an id (else a 422 would come first).
ID_QUERIES: dict[str, dict[str, str]] = {
    "GET /api/scheduler/jobs/{job_id}/explain": {"at": "2026-03-01T08:00:00Z"},
}
# Required query values of the id-less GET operations.
QUERIES: dict[str, dict[str, str]] = {
    f"{PREFIX}/validate": {"type": "cron", "value": "0 8 * * *"},
}


async def _owner_a(api: Api, headers: dict[str, str]) -> dict[str, str]:
    """A's job (every minute, so it has planned fires), a finished run, a chain, a finished
    chain run, activity, and the strings that would betray any of them."""
    job = await api.http.post(
        f"{PREFIX}/jobs",
        json={
            "name": "A-secret-job-name",
            "goal": "A-secret-goal",
            "agent_id": "echo",
            "schedule": {"type": "cron", "expression": "*/5 * * * *"},
        },
        headers=headers,
    )
    assert job.status_code == 201, job.text
    job_id = job.json()["id"]
    run_id = (await api.http.post(f"{PREFIX}/jobs/{job_id}/trigger", headers=headers)).json()[
        "run_id"
    ]
    await wait_finished(api, headers, f"{PREFIX}/jobs/{job_id}/runs/{run_id}")
    chain = await api.http.post(
        f"{PREFIX}/chains", json={"name": "A-secret-chain", "jobs": [job_id]}, headers=headers
    )
    assert chain.status_code == 201, chain.text
    chain_id = chain.json()["id"]
    chain_run_id = (
        await api.http.post(f"{PREFIX}/chains/{chain_id}/trigger", headers=headers)
    ).json()["run_id"]
    await wait_finished(api, headers, f"{PREFIX}/chains/{chain_id}/runs/{chain_run_id}")
    # Ten days back at 03:00 UTC: a weekday and hour B's own calls (now) do not fill.
    at = (datetime.now(UTC) - timedelta(days=10)).replace(hour=3, minute=0, second=0)
    events = [{"at": at.isoformat(), "kind": "A-secret-kind"}] * 50
    activity = await api.http.post(
        f"{PREFIX}/smart/activity", json={"events": events}, headers=headers
    )
    assert activity.status_code == 201, activity.text
    secret = (await api.http.get(f"{PREFIX}/delivery/webhook-secret", headers=headers)).json()
    hook = await api.http.post(f"{PREFIX}/jobs/{job_id}/hooks", headers=headers)
    assert hook.status_code == 201, hook.text
    # An incident of A's job, opened as the run recorder would.
    async with api.state.sessions() as session:
        row = (await session.execute(sa.select(jobs).where(jobs.c.id == job_id))).one()
        incident_id = await open_incident(
            session, job=row, kind="failing", reason="on purpose", at=at, alerts=None
        )
        await session.commit()
    assert incident_id is not None
    return {
        "incident_id": incident_id,
        "hook_id": hook.json()["id"],
        "hook_secret": hook.json()["secret"],
        "job_id": job_id,
        "run_id": run_id,
        "chain_id": chain_id,
        "chain_run_id": chain_run_id,
        "secret": secret["secret"],
        "job_name": "A-secret-job-name",
        "goal": "A-secret-goal",
        "chain_name": "A-secret-chain",
        "at_weekday": str(at.weekday()),
    }


def _operations(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in api.app.openapi()["paths"].items()
        for method, operation in operations.items()
    ]


def _url(path: str, ids: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in COVERED_PARAMETERS, f"{path}: path parameter {name!r} is not covered"
        if name in NOT_IDS:
            return NOT_IDS[name]
        if name == "run_id" and "/chains/" in path:
            return ids["chain_run_id"]
        return ids[name]

    return re.sub(r"\{([^}]+)\}", fill, path)


async def test_another_owners_ids_are_404_everywhere_and_nothing_of_theirs_shows(
    api: Api, worker: Worker
) -> None:
    # Admin keys: they reach every route, the owner's keys too (docs/api.md, "Keys and scopes").
    alice, bob = await api.headers("alice", scope="admin"), await api.headers("bob", scope="admin")
    a = await _owner_a(api, alice)
    a["key_id"], _ = await api.key("alice", name="A-secret-key-name")
    bob_job = await api.http.post(
        f"{PREFIX}/jobs",
        json={
            "name": "b",
            "goal": "b",
            "agent_id": "echo",
            "schedule": {"type": "cron", "expression": "0 8 * * *"},
            "enabled": False,
        },
        headers=bob,
    )
    assert bob_job.status_code == 201
    operations = _operations(api)
    with_ids = [(m, p, o) for m, p, o in operations if "{" in p]
    assert len(with_ids) >= 17, [f"{m} {p}" for m, p, _ in with_ids]

    probes = 0
    for method, path, operation in with_ids:
        name = f"{method} {path}"
        if name in PUBLIC:
            continue
        if "requestBody" in operation:
            assert name in BODIES, f"{name} takes a body: give it one in BODIES"
        body = BODIES.get(name)
        # A's ids alone, and (where a path has two) B's own job with A's run.
        urls = {_url(path, a)}
        if "{job_id}" in path and "{run_id}" in path:
            urls.add(_url(path, {**a, "job_id": bob_job.json()["id"]}))
        for url in urls:
            response = await api.http.request(
                method, url, json=body, params=ID_QUERIES.get(name), headers=bob
            )
            probes += 1
            assert response.status_code == 404, (name, url, response.status_code, response.text)
            assert response.json()["error"] == "not_found"
            # The ids sent may be echoed ("Job … not found"); nothing else of A's may be.
            for marker in a.values():
                if len(marker) > 2 and marker not in url:
                    assert marker not in response.text, (name, marker)

    views = 0
    for method, path, _ in operations:
        if method != "GET" or "{" in path:
            continue
        response = await api.http.get(path, params=QUERIES.get(path), headers=bob)
        if path == f"{PREFIX}/calendar-data":
            start = datetime.now(UTC)
            response = await api.http.get(
                path,
                params={"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()},
                headers=bob,
            )
            assert response.json()["events"] == [], response.text
        assert response.status_code == 200, (path, response.text)
        views += 1
        for key in (
            "job_id",
            "run_id",
            "chain_id",
            "chain_run_id",
            "incident_id",
            "hook_id",
            "hook_secret",
            "key_id",
            "secret",
            "job_name",
            "goal",
        ):
            assert a[key] not in response.text, (path, key)
        assert a["chain_name"] not in response.text, path
        if path == f"{PREFIX}/stats":
            stats = response.json()
            assert stats["total_jobs"] == 1 and stats["total_runs_today"] == 0, stats
            assert stats["success_rate"] is None, stats
        if path == f"{PREFIX}/smart/heatmap":
            heatmap = response.json()
            assert heatmap["grid"][int(a["at_weekday"])][3] == 0 and heatmap["total"] < 50
        if path == f"{PREFIX}/jobs":
            assert response.json()["count"] == 1
        if path == f"{PREFIX}/chains":
            assert response.json()["count"] == 0

    # The same views show A what B must not see, so the checks above can fail.
    start = datetime.now(UTC)
    window = {"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()}
    for path, params, marker in (
        (f"{PREFIX}/jobs", None, a["job_name"]),
        (f"{PREFIX}/chains", None, a["chain_name"]),
        (f"{PREFIX}/calendar-data", window, a["job_name"]),
        (f"{PREFIX}/delivery/webhook-secret", None, a["secret"]),
        (f"{PREFIX}/incidents", None, a["incident_id"]),
        (f"{PREFIX}/keys", None, a["key_id"]),
    ):
        own = await api.http.get(path, params=params, headers=alice)
        assert marker in own.text, (path, own.text[:300])
    heatmap = (await api.http.get(f"{PREFIX}/smart/heatmap", headers=alice)).json()
    assert heatmap["grid"][int(a["at_weekday"])][3] == 50
    stats = (await api.http.get(f"{PREFIX}/stats", headers=alice)).json()
    assert stats["total_runs_today"] >= 1 and stats["success_rate"] == 1.0

    # B cannot build on A's jobs either, and A's resources are untouched by all of the above.
    stolen = await api.http.post(
        f"{PREFIX}/chains", json={"name": "x", "jobs": [a["job_id"]]}, headers=bob
    )
    assert stolen.status_code == 422 and stolen.json()["details"][0]["field"] == "jobs.0"
    job = (await api.http.get(f"{PREFIX}/jobs/{a['job_id']}", headers=alice)).json()
    assert job["name"] == a["job_name"] and job["status"] == "active"
    chain = await api.http.get(f"{PREFIX}/chains/{a['chain_id']}", headers=alice)
    assert chain.status_code == 200
    run = await api.http.get(f"{PREFIX}/jobs/{a['job_id']}/runs/{a['run_id']}", headers=alice)
    assert run.json()["status"] == "completed"
    print(f"\ntenant isolation: {probes} probes on {len(with_ids)} id routes, {views} views")  # noqa: T201
