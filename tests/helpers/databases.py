"""A PostgreSQL database of a test's (or a session's) own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from api.core.index.db import sync_url


@contextmanager
def fresh_postgres_database(base_url: str, *, prefix: str) -> Iterator[str]:
    """A new database named ``<prefix>_<random>`` on ``base_url``'s server, dropped afterwards."""
    url = make_url(sync_url(base_url))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
