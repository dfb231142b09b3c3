"""The real app served by uvicorn on a loopback port, in a thread with its own event loop."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.core.index.db import make_engine, make_sessionmaker
from api.core.index.keys import create_key
from api.core.settings import Settings
from api.serving import connection_options


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the test process keeps its own
        pass


@contextmanager
def served(settings: Settings, app: FastAPI | None = None) -> Iterator[str]:
    """Serve the app (``create_app(settings)`` unless given; lifespan included) on 127.0.0.1;
    yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app or create_app(settings),
        log_level="warning",
        lifespan="on",
        access_log=False,
        # The connection handling `agent-scheduler api` serves with (api/serving.py).
        http=connection_options(settings)["http"],
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


async def minted_key(settings: Settings, owner: str, **options: Any) -> str:
    """A new API key of ``owner`` in ``settings``' index, for an app served in another loop
    (``options``: ``create_key``'s scope, limits …)."""
    engine = make_engine(settings.resolved_database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            _, key = await create_key(session, owner=owner, **options)
    finally:
        await engine.dispose()
    return key
