"""``agent-scheduler api`` in a process of its own, on a free port and its own SQLite index."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from api.core.settings import Settings
from tests.helpers.processes import CLI, clean_env, free_ports
from tests.helpers.served import minted_key


@dataclass
class ApiProcess:
    """A running ``agent-scheduler api``: its process, address, a key of owner alice, its log."""

    process: subprocess.Popen[bytes]
    port: int
    key: str
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def status(self, field: str) -> int:
        """A ``/proc/<pid>/status`` size in bytes (``VmRSS``, ``VmHWM``)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} in /proc/{self.process.pid}/status")

    def open_sockets(self) -> int:
        """How many sockets the process has open."""
        fds = Path(f"/proc/{self.process.pid}/fd")
        count = 0
        for fd in fds.iterdir():
            try:
                count += os.readlink(fd).startswith("socket:")
            except OSError:
                pass  # closed while listed
        return count

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def api_process(data_dir: Path, *args: str, **settings: object) -> Iterator[ApiProcess]:
    """``agent-scheduler api *args`` with ``settings`` (``AGENT_SCHEDULER_<NAME>``) on a free
    port, on its own SQLite index; Temporal is never reached (these requests need only the
    index)."""
    (port,) = free_ports(1)
    database_url = f"sqlite:///{data_dir / 'index.db'}"
    env = clean_env() | {
        "AGENT_SCHEDULER_DATA_DIR": str(data_dir),
        "AGENT_SCHEDULER_DATABASE_URL": database_url,
        "AGENT_SCHEDULER_PORT": str(port),
        "AGENT_SCHEDULER_TEMPORAL_ADDRESS": "127.0.0.1:1",
        "AGENT_SCHEDULER_TICK_INTERVAL_SECONDS": "0",
        **{f"AGENT_SCHEDULER_{name.upper()}": str(value) for name, value in settings.items()},
    }
    log = data_dir / "api.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [CLI, "api", *args], stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=env
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"the API did not start:\n{log.read_text()}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        index = Settings(data_dir=data_dir, database_url=database_url)
        key = asyncio.run(minted_key(index, "alice"))
        yield ApiProcess(process, port, key, log)
    finally:
        process.terminate()  # SIGTERM: with --workers, uvicorn stops its processes too
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
