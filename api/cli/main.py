"""The ``agent-scheduler`` command: ``dev``, ``api``, ``worker`` and ``keys``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from api.cli.jobs import jobs_app
from api.cli.supervisor import run_dev, run_services, uvicorn_options, with_index_session
from api.core import logs, metrics
from api.core.errors import NotFound
from api.core.index.audit import SYSTEM_CLI as CLI
from api.core.index.audit import add_event
from api.core.index.keys import get_key, list_keys, revoke_key
from api.core.index.models import ApiKey
from api.core.settings import Settings, get_settings
from api.errors import invalid_body
from api.schemas.keys import KeyCreate
from api.services import keys as key_service

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
app.add_typer(jobs_app, name="jobs")

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


def _index_settings(data_dir: Path | None, *, must_exist: bool) -> Settings:
    """The settings of a ``keys`` command, after saying on stderr which index it uses; with
    ``must_exist``, a SQLite index that is not there is an error (exit 1) rather than a new,
    empty one made in the current directory."""
    settings = _settings(data_dir=data_dir)
    if settings.database_url:
        shown = make_url(settings.database_url).render_as_string(hide_password=True)
        err_console.print(f"Index: {shown}", markup=False, highlight=False, soft_wrap=True)
        return settings
    path = (settings.data_dir / "index.db").resolve()
    if not path.exists():
        if must_exist:
            err_console.print(
                f"[red]No index at {path}[/]: no data directory here. Run it where "
                "`agent-scheduler dev` ran, or pass --data-dir (AGENT_SCHEDULER_DATA_DIR) or "
                "set AGENT_SCHEDULER_DATABASE_URL.",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(1)
        err_console.print(f"Index: {path} (new)", markup=False, highlight=False, soft_wrap=True)
    else:
        err_console.print(f"Index: {path}", markup=False, highlight=False, soft_wrap=True)
    return settings


def _configure_logging() -> None:
    logs.configure(get_settings().log_format)


def _exit_process(code: int) -> None:
    """Leave without interpreter finalization, once everything was stopped explicitly.

    The Temporal SDK's native threads can abort the interpreter at exit (sdk-python#300),
    which would turn a clean Ctrl-C into a crash code.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


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
            # The development backend keeps its speed: bench/runs.py is 0.73 with it, 0.63 without.
            "sqlite_one_hop": True,
        }
    )
    _exit_process(asyncio.run(run_dev(settings, temporal_port, ui_port)))


@app.command()
def api(
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes sharing the port (uvicorn's process manager); each has its own "
            "index connections and Temporal client.",
        ),
    ] = 1,
) -> None:
    """Run the API against the Temporal cluster and database from the settings."""
    _configure_logging()
    if workers == 1:
        _exit_process(asyncio.run(run_services(get_settings(), api=True, worker=False)))
    settings = get_settings()
    with metrics_of_processes(settings):
        # Each process builds the app from the environment's settings and migrates the index
        # at start; the migrations serialize across processes (api/core/index/db.py).
        uvicorn.run(
            "api.app:create_app", factory=True, workers=workers, **uvicorn_options(settings)
        )


@contextlib.contextmanager
def metrics_of_processes(settings: Settings) -> Iterator[None]:
    """With a metrics port, the API processes count into files of a fresh directory and this
    process serves their sum (docs/operations.md, "Metrics")."""
    if settings.metrics_port is None:
        yield
        return
    directory = tempfile.mkdtemp(prefix="agent-scheduler-metrics-")
    os.environ[metrics.MULTIPROCESS_DIR_VARIABLE] = directory  # the processes inherit it
    page = metrics.serve_api_processes(
        directory, settings.metrics_host, settings.metrics_port, settings.resolved_database_url
    )
    log.info("API metrics of every process on %s", page.url)
    try:
        yield
    finally:
        page.close()
        shutil.rmtree(directory, ignore_errors=True)


@app.command()
def worker() -> None:
    """Run the worker (same as ``python worker.py``)."""
    _configure_logging()
    _exit_process(asyncio.run(run_services(get_settings(), api=False, worker=True)))


@keys_app.command("create")
def keys_create(
    owner: Annotated[
        str | None,
        typer.Option(help="Owner of the key and of what it creates (default: the replaced key's)."),
    ] = None,
    scope: Annotated[
        str | None,
        typer.Option(help="read, write or admin. [default: write, or the replaced one's]"),
    ] = None,
    name: Annotated[str | None, typer.Option(help="What the key is for.")] = None,
    expires_in: Annotated[
        str | None, typer.Option(help="Stops working after this long, e.g. 30d. [default: never]")
    ] = None,
    replaces: Annotated[
        str | None, typer.Option(help="Rotation: the id of the key this one replaces.")
    ] = None,
    overlap: Annotated[
        str, typer.Option(help="Rotation: how long the replaced key keeps working.")
    ] = "24h",
    max_jobs: Annotated[
        int | None, typer.Option(help="Limit: live jobs created with this key.")
    ] = None,
    min_interval: Annotated[
        str | None, typer.Option(help="Limit: the tightest spacing of its jobs' fires, e.g. 15m.")
    ] = None,
    max_runs_per_day: Annotated[
        int | None, typer.Option(help="Limit: runs of its jobs in 24 hours.")
    ] = None,
    agents: Annotated[
        str | None, typer.Option(help="Limit: the agents its jobs may use, e.g. echo,claude.")
    ] = None,
    no_trigger: Annotated[
        bool, typer.Option("--no-trigger", help="Limit: the key cannot start runs.")
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Create a key; the key alone is printed on the last line of stdout."""
    if owner is not None and not owner.strip():
        err_console.print("[red]--owner must not be empty[/]")
        raise typer.Exit(2)
    if owner is None and replaces is None:
        err_console.print("[red]give --owner (or --replaces)[/]")
        raise typer.Exit(2)
    limits: dict[str, Any] = {
        "max_jobs": max_jobs,
        "min_interval_seconds": min_interval,
        "max_runs_per_day": max_runs_per_day,
        "agents": [a.strip() for a in agents.split(",") if a.strip()] if agents else None,
        "no_trigger": no_trigger,
    }
    given = {field: value for field, value in limits.items() if value not in (None, False)}
    try:
        body = KeyCreate.model_validate(
            {
                "name": name,
                "scope": scope,
                "expires_in": expires_in,
                "replaces": replaces,
                "overlap": overlap,
                "limits": given or None,
            }
        )
    except ValidationError as exc:
        for error in invalid_body(exc.errors()).details or []:
            err_console.print(f"[red]{_option(error.field)}: {error.message}[/]")
        raise typer.Exit(2) from None
    settings = _index_settings(data_dir, must_exist=replaces is not None)

    async def create(session: AsyncSession) -> tuple[ApiKey, str]:
        key_owner = owner
        if key_owner is None:
            assert replaces is not None
            old = await get_key(session, key_id=replaces)
            if old is None:
                raise NotFound(f"Key {replaces} not found")
            key_owner = old.owner
        return await key_service.create(
            session, owner=key_owner, body=body, now=datetime.now(UTC), actor=CLI
        )

    try:
        row, plaintext = asyncio.run(with_index_session(settings, create))
    except NotFound as exc:
        err_console.print(f"[red]{exc.message}[/] (see `agent-scheduler keys list`)")
        raise typer.Exit(1) from None
    expires = f", expires {_utc_minute(row.expires_at)} UTC" if row.expires_at else ""
    err_console.print(
        f"Created {row.id} ({row.scope}{expires}) for owner '{row.owner}'. "
        "It is shown only this once."
    )
    if replaces is not None:
        err_console.print(f"{replaces} keeps working for {overlap}, then expires.")
    print(plaintext, flush=True)


_OPTIONS = {"min_interval_seconds": "min_interval", "limits": ""}


def _option(field: str) -> str:
    """The command-line option a field of KeyCreate comes from."""
    last = field.rsplit(".", 1)[-1]
    return "--" + _OPTIONS.get(last, last).replace("_", "-")


def _utc_minute(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


@keys_app.command("list")
def keys_list(
    owner: Annotated[str | None, typer.Option(help="Only this owner's keys.")] = None,
    data_dir: DataDirOption = None,
) -> None:
    """List keys (id, owner, name, scope, dates; never the key itself)."""

    async def listed(session: AsyncSession) -> list[ApiKey]:
        return await list_keys(session, owner=owner)

    rows = asyncio.run(with_index_session(_index_settings(data_dir, must_exist=True), listed))
    table = Table(box=box.SIMPLE_HEAD)
    table.add_column("id", no_wrap=True)
    table.add_column("owner", overflow="fold")
    table.add_column("name", overflow="fold")
    table.add_column("scope", no_wrap=True)
    table.add_column("prefix", no_wrap=True)
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("expires (UTC)", no_wrap=True)
    table.add_column("last used (UTC)", no_wrap=True)
    table.add_column("revoked (UTC)", no_wrap=True)
    for row in rows:
        table.add_row(
            row.id,
            row.owner,
            row.name or "-",
            row.scope + (" (limited)" if row.limits else ""),
            row.prefix + "…",
            _utc_minute(row.created_at),
            _utc_minute(row.expires_at) if row.expires_at else "-",
            _utc_minute(row.last_used_at) if row.last_used_at else "-",
            _utc_minute(row.revoked_at) if row.revoked_at else "-",
        )
    # Nine columns: wider than the 80 a pipe gets, so a row stays one line for scripts.
    Console(highlight=False, width=max(console.width, 160)).print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…), from `keys list`.")],
    data_dir: DataDirOption = None,
) -> None:
    """Revoke a key: requests with it answer 401 from now on."""

    async def revoke(session: AsyncSession) -> bool:
        row = await get_key(session, key_id=key_id)
        if row is not None:  # committed with the revocation, if it changes anything
            await add_event(
                session, owner=row.owner, action="key.revoke", actor=CLI, target_id=key_id
            )
        return await revoke_key(session, key_id=key_id)

    settings = _index_settings(data_dir, must_exist=True)
    if not asyncio.run(with_index_session(settings, revoke)):
        err_console.print(f"[red]no key {key_id}[/] (see `agent-scheduler keys list`)")
        raise typer.Exit(1)
    console.print(f"Revoked {key_id}.")


def main() -> None:
    """Entry point of the ``agent-scheduler`` command."""
    app()


if __name__ == "__main__":
    main()
