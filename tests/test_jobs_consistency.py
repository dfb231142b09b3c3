"""The index and Temporal do not drift when Temporal fails part-way (SPEC §5, issue 2 item 5)."""

from __future__ import annotations

import socket

import httpx
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.settings import Settings
from api.temporal import packaged_binary
from domain import search_attributes
from tests.conftest import Api
from tests.test_jobs_api import JOBS, job_body


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
