"""Processes tests start, and what they need: free ports, the ``agent-scheduler`` command."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from api.core.settings import Settings

CLI = str(Path(sys.executable).parent / "agent-scheduler")
"""The ``agent-scheduler`` command of this venv."""


def clean_env() -> dict[str, str]:
    """This environment without any AGENT_SCHEDULER_* setting, so only the flags count."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SCHEDULER_")}


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
        str(Path(__file__).parents[2] / "worker.py"),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


@asynccontextmanager
async def doomed_worker(settings: Settings) -> AsyncIterator[asyncio.subprocess.Process]:
    """A worker process that is SIGKILLed, with no chance to clean up, when the block ends."""
    process = await spawn_worker(settings)
    try:
        yield process
    finally:
        process.kill()
        await process.wait()
