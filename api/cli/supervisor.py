"""The process supervisor of ``agent-scheduler dev``, ``api`` and ``worker``.

It runs the API (uvicorn) and the worker in one event loop, with the Temporal dev server for
``dev``, and stops them in order on SIGINT/SIGTERM, bounded in time: a stop never takes more than
``HARD_STOP_AFTER`` seconds (docs/operations.md, "Stopping").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from api.core import metrics, tracing
from api.core.index.db import make_engine, make_sessionmaker, migrate
from api.core.index.keys import create_key, owner_of
from api.core.settings import Settings

T = TypeVar("T")

DEV_KEY_FILE = "dev-api-key"
DEV_KEY_OWNER = "local"
# Stopping is bounded: API and worker stop together, each within its timeout, then the dev
# server within its grace, and whatever still hangs is killed when HARD_STOP_AFTER has passed
# since the signal: a stop never takes more than 10 s (docs/operations.md, "Stopping").
API_GRACE = 3  # uvicorn's wait for requests in flight (a stalled client must not hold it)
API_STOP_TIMEOUT = 5.0
WORKER_STOP_TIMEOUT = 5.0
DEV_TEMPORAL_GRACE = 3.0
HARD_STOP_AFTER = 9.0
# Where `dev` serves the metrics pages when these ports are free (9464: OpenTelemetry's
# Prometheus exporter's own default).
DEV_METRICS_PORT = 9464
DEV_WORKER_METRICS_PORT = 9465

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
log = logging.getLogger("agent_scheduler.cli")


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's keyword arguments for the API, whichever way it runs (``dev``, ``api``,
    ``api --workers N``): address, stop grace, and the limits of docs/operations.md."""
    # Imported here, like the app: `keys` commands need none of the HTTP layer.
    from api.serving import connection_options

    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "timeout_graceful_shutdown": API_GRACE,
        **connection_options(settings),
    }


class Stopper:
    """SIGINT/SIGTERM handling: the first signal stops in order, the second hurries it, and
    ``HARD_STOP_AFTER`` seconds after the first the process ends whatever is still running."""

    def __init__(self, hard_stop_after: float = HARD_STOP_AFTER) -> None:
        self.event = asyncio.Event()
        self.on_force: list[Callable[[], None]] = []
        # Called from the watchdog thread: only thread-safe, non-blocking calls (a SIGKILL).
        self.on_hard_stop: list[Callable[[], None]] = []
        self.hard_stop_after = hard_stop_after

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._handle, sig)

    def _handle(self, sig: signal.Signals) -> None:
        if not self.event.is_set():
            log.warning("%s received: stopping (again to force)…", sig.name)
            self.event.set()
            # A thread, not the loop: it must fire even if something blocks the loop.
            watchdog = threading.Timer(self.hard_stop_after, self._hard_stop)
            watchdog.daemon = True
            watchdog.start()
            return
        for force in self.on_force:
            force()

    def _hard_stop(self) -> None:
        for kill in self.on_hard_stop:
            with contextlib.suppress(Exception):
                kill()
        with contextlib.suppress(Exception):
            sys.stderr.write(f"still stopping after {self.hard_stop_after:.0f} s: killed\n")
            sys.stderr.flush()
        os._exit(1)


class _ApiServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the CLI, so API, worker and Temporal stop in order
    and the process exits 0 (uvicorn alone re-raises the signal after its shutdown)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _StartupFailed(RuntimeError):
    """The API could not start (port taken, lifespan failed); uvicorn logged why."""


async def _serve_api(server: uvicorn.Server) -> None:
    try:
        await server.serve()
    except SystemExit as exit_:
        # uvicorn calls sys.exit() on a startup failure; inside a task it would tear the loop down.
        raise _StartupFailed(f"the API did not start (uvicorn exit code {exit_.code})") from None


async def _finish(task: asyncio.Task[Any], timeout: float) -> BaseException | None:
    """Wait for a task that was asked to stop; cancel it after ``timeout``; return its error."""
    done, _ = await asyncio.wait([task], timeout=timeout)
    if not done:
        task.cancel()
        await asyncio.wait([task])
    if task.cancelled():
        return None
    return task.exception()


async def _supervise(
    settings: Settings,
    stopper: Stopper,
    *,
    api: bool,
    worker: bool,
    on_ready: Callable[[], None] | None = None,
) -> int:
    """Run the API and/or the worker in this loop until a signal; 0 if all stopped cleanly."""
    tasks: dict[str, asyncio.Task[Any]] = {}
    server: _ApiServer | None = None
    worker_stop = asyncio.Event()
    stop_wait = asyncio.create_task(stopper.event.wait())

    def force() -> None:
        if server is not None:
            server.force_exit = True
        for task in tasks.values():
            task.cancel()

    def going() -> bool:
        """No signal yet and nothing ended."""
        return not stopper.event.is_set() and not any(t.done() for t in tasks.values())

    stopper.on_force.append(force)
    if worker and settings.worker_metrics_port is not None:
        # Before any client connects (the API's too, in `dev`): a client keeps its runtime.
        metrics.temporal_runtime_metrics()
    try:
        if api:
            from api.app import create_app

            config = uvicorn.Config(create_app(settings), **uvicorn_options(settings))
            server = _ApiServer(config)
            tasks["api"] = asyncio.create_task(_serve_api(server))
            # The worker starts once the API is up: both migrate the index at start, and
            # Alembic's global context breaks when two migrations run at once in one process.
            while going() and not server.started:
                await asyncio.wait([stop_wait, tasks["api"]], timeout=0.05)
        if worker and going():
            # Imported here: the worker pulls in every workflow; `keys` commands stay fast.
            from worker import run_worker

            tasks["worker"] = asyncio.create_task(run_worker(settings, stop=worker_stop))
        if on_ready is not None and going():
            on_ready()
        await asyncio.wait([stop_wait, *tasks.values()], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_wait.cancel()
    failed = [name for name, task in tasks.items() if task.done()]

    if server is not None:
        server.should_exit = True
    worker_stop.set()
    code = 0
    # Together: one after the other, their timeouts would add up.
    timeouts = {"api": API_STOP_TIMEOUT, "worker": WORKER_STOP_TIMEOUT}
    names = [name for name in timeouts if name in tasks]
    errors = await asyncio.gather(*(_finish(tasks[name], timeouts[name]) for name in names))
    for name, error in zip(names, errors, strict=True):
        if error is not None:
            log.error("the %s failed: %s", name, error, exc_info=error)
            code = 1
    if failed and not stopper.event.is_set() and code == 0:
        log.error("the %s stopped unexpectedly", failed[0])
        code = 1
    await asyncio.to_thread(tracing.shutdown)  # the spans still buffered are exported
    return code


async def with_index_session(
    settings: Settings, action: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    """Run ``action`` in one index session, the index migrated first."""
    url = settings.resolved_database_url
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url, sqlite_one_hop=settings.sqlite_one_hop)
    try:
        async with make_sessionmaker(engine)() as session:
            return await action(session)
    finally:
        await engine.dispose()


def _write_secret(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only, whatever the umask or an older file's mode."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text + "\n")
    os.chmod(path, 0o600)


async def _dev_key(settings: Settings) -> str:
    """The dev API key kept in the data dir, created (owner ``local``, scope ``admin``: it also
    manages keys over the API) when missing or dead."""
    path = settings.data_dir / DEV_KEY_FILE

    async def ensure(session: AsyncSession) -> str:
        if path.exists():
            kept = path.read_text().strip()
            if kept and await owner_of(session, plaintext=kept) is not None:
                return kept
        _, plaintext = await create_key(session, owner=DEV_KEY_OWNER, scope="admin", name="dev")
        _write_secret(path, plaintext)
        return plaintext

    return await with_index_session(settings, ensure)


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _print_banner(settings: Settings, key: str) -> None:
    base = f"http://{_display_host(settings.host)}:{settings.port}"
    lines = [
        ("API", base),
        ("API docs", f"{base}/docs"),
        ("Dashboard", f"{base}/ui"),
        ("Temporal UI", settings.temporal_ui_url),
        *_metrics_lines(settings),
        ("API key", key),
        ("Data dir", str(settings.data_dir)),
    ]
    console.print("\n[bold green]agent-scheduler dev is running[/]")
    for label, value in lines:
        # soft_wrap keeps long values (the key) on one line for copy-paste and scripts.
        console.print(f"  {label + ':':<13} [bold]{value}[/]", soft_wrap=True)
    console.print("  Press Ctrl-C to stop.\n")


def _with_dev_metrics_ports(settings: Settings, is_free: Callable[[str, int], bool]) -> Settings:
    """``dev`` serves both metrics pages: on the ports set, else on 9464 (API) and 9465
    (worker) where free, else on free ports; the banner prints where."""
    ports = {}
    for name, default in (
        ("metrics_port", DEV_METRICS_PORT),
        ("worker_metrics_port", DEV_WORKER_METRICS_PORT),
    ):
        given = getattr(settings, name)
        if given:
            ports[name] = given
        elif given is None and is_free(settings.metrics_host, default):
            ports[name] = default
        else:
            ports[name] = metrics.free_loopback_port()
    return settings.model_copy(update=ports)


def _metrics_lines(settings: Settings) -> list[tuple[str, str]]:
    host = _display_host(settings.metrics_host)
    return [
        (label, f"http://{host}:{port}/metrics")
        for label, port in (
            ("API metrics", settings.metrics_port),
            ("Worker metrics", settings.worker_metrics_port),
        )
        if port
    ]


async def run_dev(settings: Settings, temporal_port: int, ui_port: int) -> int:
    # Imported here, like the app and the worker: `keys` commands need none of Temporal.
    from api.cli.devserver import DevServer, DevServerError, port_is_free

    stopper = Stopper()
    stopper.install()
    if not port_is_free(settings.host, settings.port):
        err_console.print(f"[red]port {settings.host}:{settings.port} is in use; pick --port[/]")
        return 1
    settings = _with_dev_metrics_ports(settings, port_is_free)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = await _dev_key(settings)
    temporal = DevServer(
        settings.data_dir,
        port=temporal_port,
        ui_port=ui_port,
        namespace=settings.temporal_namespace,
        stop_grace=DEV_TEMPORAL_GRACE,
    )
    stopper.on_force.append(temporal.kill)
    stopper.on_hard_stop.append(temporal.kill_group)
    err_console.print(f"Starting the Temporal dev server on {temporal.address}…")
    try:
        if not await _unless_stopped(temporal.start(), stopper):
            return 0
        return await _supervise(
            settings,
            stopper,
            api=True,
            worker=True,
            on_ready=lambda: _print_banner(settings, key),
        )
    except DevServerError as error:
        err_console.print(f"[red]{error}[/]", soft_wrap=True)
        return 1
    finally:
        await temporal.stop()


async def _unless_stopped(work: Coroutine[Any, Any, None], stopper: Stopper) -> bool:
    """Run ``work`` unless a signal comes first; True when it completed."""
    task = asyncio.create_task(work)
    stop_wait = asyncio.create_task(stopper.event.wait())
    await asyncio.wait([task, stop_wait], return_when=asyncio.FIRST_COMPLETED)
    stop_wait.cancel()
    if not task.done():
        task.cancel()
        await asyncio.wait([task])
        return False
    task.result()
    return True


async def run_services(settings: Settings, *, api: bool, worker: bool) -> int:
    stopper = Stopper()
    stopper.install()
    return await _supervise(settings, stopper, api=api, worker=worker)
