"""The app under test as tests drive it: keys, job bodies, jobs created and triggered, waiting."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI

from api.core.index.keys import create_key
from api.deps import utc_now
from api.state import AppState

JOBS = "/api/scheduler/jobs"


class Api:
    """The real app over ASGI, with helpers to mint keys for owners."""

    def __init__(self, app: FastAPI, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.app
        return state

    async def headers(self, owner: str, **key: Any) -> dict[str, str]:
        """Authorization headers of a new key for ``owner`` (``key``: its scope, limits …)."""
        return (await self.key(owner, **key))[1]

    async def key(self, owner: str, **key: Any) -> tuple[str, dict[str, str]]:
        """A new key for ``owner`` (``key``: ``create_key``'s scope, limits …): its id and
        Authorization headers."""
        async with self.state.sessions() as session:
            row, plaintext = await create_key(session, owner=owner, **key)
        return row.id, {"Authorization": f"Bearer {plaintext}"}

    def pin(self, now: datetime) -> None:
        """Make ``now`` the app's current instant (the clock dependency)."""
        self.app.dependency_overrides[utc_now] = lambda: now


def job_body(**overrides: Any) -> dict[str, Any]:
    """A valid job creation body (a weekday cron job of the ``echo`` agent), with ``overrides``."""
    body: dict[str, Any] = {
        "name": "Daily digest",
        "goal": "Summarize today's activity",
        "agent_id": "echo",
        "schedule": {"type": "cron", "expression": "0 8 * * 1-5", "timezone": "America/New_York"},
    }
    body.update(overrides)
    return body


async def create(api: Api, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """Create a job from ``job_body(**overrides)``; fails unless the API answers 201."""
    response = await api.http.post(JOBS, json=job_body(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def trigger(api: Api, headers: dict[str, str], job_id: str) -> str:
    """Trigger a run of ``job_id`` now; returns the run id."""
    response = await api.http.post(f"{JOBS}/{job_id}/trigger", headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["run_id"])


async def wait_finished(
    api: Api, headers: dict[str, str], url: str, *, timeout: float = 30
) -> dict[str, Any]:
    """Poll a run or chain run through the API until it is no longer ``running``."""
    deadline = time.monotonic() + timeout
    while True:
        response = await api.http.get(url, headers=headers)
        if response.status_code == 200 and response.json()["status"] != "running":
            return dict(response.json())
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} still {response.text} after {timeout}s")
        await asyncio.sleep(0.1)


async def wait_run(
    api: Api, headers: dict[str, str], job_id: str, run_id: str, *, timeout: float = 30
) -> dict[str, Any]:
    """Poll the API until the run has finished."""
    return await wait_finished(api, headers, f"{JOBS}/{job_id}/runs/{run_id}", timeout=timeout)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
    """Return once ``check()`` holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what} not within {timeout}s"
        await asyncio.sleep(0.05)


async def tool_error(
    api: Api, headers: dict[str, str], name: str, arguments: dict[str, Any]
) -> dict[str, Any]:
    """Call the MCP tool ``name`` at ``/mcp``; the error body of its tool error (docs/api.md,
    "Errors"), or ``{}`` when it succeeded."""
    message = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    sent = {**headers, "Accept": "application/json, text/event-stream"}
    response = await api.http.post("/mcp", json=message, headers=sent)
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    if not result.get("isError"):
        return {}
    body: dict[str, Any] = json.loads(result["content"][0]["text"])
    return body
