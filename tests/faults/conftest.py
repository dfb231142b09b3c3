"""Fixtures of the fault cases (the counting agent, an index of the case's own) and their tier."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.harness import CountingAgent
from tests.helpers.databases import fresh_postgres_database

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/faults/ is in the ``fault`` tier (before tests/conftest.py's)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.fault)


@pytest.fixture
def index_url(tmp_path: Path) -> Iterator[str]:
    """A fresh database on the configured PostgreSQL server, else a SQLite file."""
    base = os.environ.get("AGENT_SCHEDULER_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'index.db'}"
        return
    with fresh_postgres_database(base, prefix="agent_scheduler_faults") as url:
        yield url


@pytest.fixture
def agent() -> Iterator[CountingAgent]:
    """The counting ``http`` agent; a case sets its ``delay``."""
    served = CountingAgent().start()
    try:
        yield served
    finally:
        served.close()
