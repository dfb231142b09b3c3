"""Resources tests take for themselves: free loopback ports, a PostgreSQL database of their own."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from api.core.index.db import sync_url


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (bound all at once, so none is handed out twice)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def dev_command(
    cli: str, data_dir: Path, *, ports: list[int], agents: Path | None = None
) -> list[str]:
    """The argv of ``agent-scheduler dev`` serving API, Temporal and its UI on ``ports``."""
    port, temporal_port, ui_port = ports
    argv = [cli, "dev", "--data-dir", str(data_dir), "--port", str(port)]
    argv += ["--temporal-port", str(temporal_port), "--ui-port", str(ui_port)]
    return argv + (["--agents", str(agents)] if agents else [])


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
