"""Fixtures of the fault cases: the counting agent and an index of the case's own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from api.index.db import sync_url
from tests.faults.harness import CountingAgent


@pytest.fixture
def index_url(tmp_path: Path) -> Iterator[str]:
    """A fresh database on the configured PostgreSQL server, else a SQLite file."""
    base = os.environ.get("AGENT_SCHEDULER_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'index.db'}"
        return
    url = make_url(sync_url(base))
    name = f"agent_scheduler_faults_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def agent() -> Iterator[CountingAgent]:
    """The counting ``http`` agent; a case sets its ``delay``."""
    served = CountingAgent().start()
    try:
        yield served
    finally:
        served.close()
