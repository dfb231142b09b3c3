"""The ``agent-scheduler`` command: ``dev``, ``api``, ``worker`` and ``keys``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvicorn
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.index.db import make_engine, make_sessionmaker, migrate
from api.core.index.keys import create_key, list_keys, owner_of, revoke_key
from api.core.index.models import ApiKey
from api.core.settings import Settings, get_settings

T = TypeVar("T")

DEV_KEY_FILE = "dev-api-key"
DEV_KEY_OWNER = "local"
# Stopping is bounded: API and worker stop together, each within its timeout, then the dev
# server within its grace, and whatever still hangs is killed when HARD_STOP_AFTER has passed
# since the signal: a stop never takes more than 10 s (issue 18).
API_GRACE = 3  # uvicorn's wait for requests in flight (a stalled client must not hold it)
API_STOP_TIMEOUT = 5.0
WORKER_STOP_TIMEOUT = 5.0
DEV_TEMPORAL_GRACE = 3.0
HARD_STOP_AFTER = 9.0

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
log = logging.getLogger("agent_scheduler.cli")

app = typer.Typer(
    name="agent-scheduler",
    help="A scheduler for AI-agent jobs, run on Temporal.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Local state (index, Temporal, dev key). [default: ./.agent-scheduler]"
    ),
]


def _settings(**overrides: Any) -> Settings:
    """The environment's settings with the command-line options that were given on top."""
    given = {name: value for name, value in overrides.items() if value is not None}
    return get_settings().model_copy(update=given)


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Their INFO lines carry full request URLs: webhook and Slack URLs can hold secrets.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _exit_process(code: int) -> None:
    """Leave without interpreter finalization, once everything was stopped explicitly.

    The Temporal SDK's native threads can abort the interpreter at exit (sdk-python#300),
    which would turn a clean Ctrl-C into a crash code.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class _Stopper:
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
            err_console.print(f"{sig.name} received: stopping (again to force)…")
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


async def _run_services(
    settings: Settings,
    stopper: _Stopper,
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
    try:
        if api:
            from api.app import create_app

            config = uvicorn.Config(
                create_app(settings),
                host=settings.host,
                port=settings.port,
                log_level="info",
                timeout_graceful_shutdown=API_GRACE,
            )
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
        err_console.print(f"[red]the {failed[0]} stopped unexpectedly[/]")
        code = 1
    return code


async def _with_session(settings: Settings, action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``action`` in one index session, the index migrated first."""
    url = settings.resolved_database_url
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
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
    """The dev API key kept in the data dir, created (owner ``local``) when missing or dead."""
    path = settings.data_dir / DEV_KEY_FILE

    async def ensure(session: AsyncSession) -> str:
        if path.exists():
            kept = path.read_text().strip()
            if kept and await owner_of(session, plaintext=kept) is not None:
                return kept
        _, plaintext = await create_key(session, owner=DEV_KEY_OWNER)
        _write_secret(path, plaintext)
        return plaintext

    return await _with_session(settings, ensure)


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _print_banner(settings: Settings, key: str) -> None:
    base = f"http://{_display_host(settings.host)}:{settings.port}"
    lines = [
        ("API", base),
        ("API docs", f"{base}/docs"),
        ("Dashboard", f"{base}/ui"),
        ("Temporal UI", settings.temporal_ui_url),
        ("API key", key),
        ("Data dir", str(settings.data_dir)),
    ]
    console.print("\n[bold green]agent-scheduler dev is running[/]")
    for label, value in lines:
        # soft_wrap keeps long values (the key) on one line for copy-paste and scripts.
        console.print(f"  {label + ':':<13} [bold]{value}[/]", soft_wrap=True)
    console.print("  Press Ctrl-C to stop.\n")


async def _dev(settings: Settings, temporal_port: int, ui_port: int) -> int:
    # Imported here, like the app and the worker: `keys` commands need none of Temporal.
    from api.devserver import DevServer, DevServerError, port_is_free

    stopper = _Stopper()
    stopper.install()
    if not port_is_free(settings.host, settings.port):
        err_console.print(f"[red]port {settings.host}:{settings.port} is in use; pick --port[/]")
        return 1
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
        return await _run_services(
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


async def _unless_stopped(work: Coroutine[Any, Any, None], stopper: _Stopper) -> bool:
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


async def _production(settings: Settings, *, api: bool, worker: bool) -> int:
    stopper = _Stopper()
    stopper.install()
    return await _run_services(settings, stopper, api=api, worker=worker)


@app.command()
def dev(
    data_dir: DataDirOption = None,
    host: Annotated[str | None, typer.Option(help="API bind address. [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="API port. [default: 8787]")] = None,
    temporal_port: Annotated[int, typer.Option(help="Temporal frontend (gRPC) port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = 8233,
    agents: Annotated[
        Path | None, typer.Option(help="Agents file (TOML).", exists=True, dir_okay=False)
    ] = None,
) -> None:
    """Run Temporal (embedded dev server), the worker and the API together, for local use."""
    _configure_logging()
    base = _settings(data_dir=data_dir, host=host, port=port, agents_file=agents)
    settings = base.model_copy(
        update={
            "data_dir": base.data_dir.resolve(),
            "agents_file": base.agents_file.resolve() if base.agents_file else None,
            "temporal_address": f"127.0.0.1:{temporal_port}",
            "temporal_ui_url": f"http://127.0.0.1:{ui_port}",
            # The embedded server speaks plain gRPC: cluster credentials do not apply to it.
            "temporal_tls_cert": None,
            "temporal_tls_key": None,
            "temporal_api_key": None,
            "allow_private_targets": True,
            "dev_outbox": True,
        }
    )
    _exit_process(asyncio.run(_dev(settings, temporal_port, ui_port)))


@app.command()
def api() -> None:
    """Run the API against the Temporal cluster and database from the settings."""
    _configure_logging()
    _exit_process(asyncio.run(_production(get_settings(), api=True, worker=False)))


@app.command()
def worker() -> None:
    """Run the worker (same as ``python worker.py``)."""
    _configure_logging()
    _exit_process(asyncio.run(_production(get_settings(), api=False, worker=True)))


@keys_app.command("create")
def keys_create(
    owner: Annotated[str, typer.Option(help="Owner of the key and of what it creates.")],
    data_dir: DataDirOption = None,
) -> None:
    """Create a key; the key alone is printed on the last line of stdout."""
    if not owner.strip():
        err_console.print("[red]--owner must not be empty[/]")
        raise typer.Exit(2)
    settings = _settings(data_dir=data_dir)

    async def create(session: AsyncSession) -> tuple[ApiKey, str]:
        return await create_key(session, owner=owner)

    row, plaintext = asyncio.run(_with_session(settings, create))
    err_console.print(f"Created {row.id} for owner '{owner}'. It is shown only this once.")
    print(plaintext, flush=True)


def _utc_minute(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


@keys_app.command("list")
def keys_list(data_dir: DataDirOption = None) -> None:
    """List keys (id, owner, prefix, dates; never the key itself)."""
    rows = asyncio.run(_with_session(_settings(data_dir=data_dir), list_keys))
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True)
    table.add_column("owner", overflow="fold")
    table.add_column("prefix", no_wrap=True)
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("revoked (UTC)", no_wrap=True)
    for row in rows:
        table.add_row(
            row.id,
            row.owner,
            row.prefix + "…",
            _utc_minute(row.created_at),
            _utc_minute(row.revoked_at) if row.revoked_at else "-",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…), from `keys list`.")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a key: requests with it answer 401 from now on."""

    async def revoke(session: AsyncSession) -> bool:
        return await revoke_key(session, key_id=key_id)

    if not asyncio.run(_with_session(_settings(data_dir=data_dir), revoke)):
        err_console.print(f"[red]no key {key_id}[/] (see `agent-scheduler keys list`)")
        raise typer.Exit(1)
    console.print(f"Revoked {key_id}.")


def main() -> None:
    """Entry point of the ``agent-scheduler`` command."""
    app()


if __name__ == "__main__":
    main()
