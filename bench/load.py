"""Mixed API load: concurrent keep-alive clients listing, creating and triggering jobs against the
served API, next to what Temporal itself takes for the calls a create and a trigger make.

    .venv/bin/python bench/load.py [--clients 50] [--seconds 20] [--api-workers 1 2]
                                   [--database-url URL]

Starts, as a deployment would on one machine: a Temporal dev server as ``agent-scheduler dev``
starts it, ``agent-scheduler worker`` and, per ``--api-workers`` value, ``agent-scheduler api
--workers N`` (each its own process, the index a fresh SQLite file unless ``--database-url``
names an empty database). Per API phase: ``--clients`` clients (one keep-alive connection each)
send 40 % ``GET /jobs?limit=50``, 30 % ``POST /jobs`` and 30 % ``POST /jobs/{id}/trigger``
for ``--seconds``; throughput, p50/p99 per kind and overall, and every non-2xx answer are
reported, then the phase waits for its triggered runs to finish. Last, the Temporal phase: the
same number of concurrent callers make the one Temporal call of each (``create_schedule`` with
our schedule's shape, ``start_workflow`` with a trigger's) on the same server for as long.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
)
from temporalio.contrib.pydantic import pydantic_data_converter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.cli.devserver import DevServer, port_is_free
from api.core.index.db import sync_url
from bench.api import free_port
from domain.contract.names import RUN_WORKFLOW
from domain.contract.runs import JobRunInput
from domain.search_attributes import run_attributes

CLI = str(Path(sys.executable).parent / "agent-scheduler")
BASE = "/api/scheduler"
YEARLY = {"type": "cron", "expression": "0 0 1 1 *"}
MIX = (
    "list",
    "create",
    "trigger",
    "list",
    "create",
    "trigger",
    "list",
    "create",
    "trigger",
    "list",
)
SEED_JOBS = 10
SETTLE_LIMIT = 180.0  # seconds a phase may wait for its triggered runs


TICKS = os.sysconf("SC_CLK_TCK")


def processes() -> dict[int, tuple[int, float]]:
    """Every live process: its parent's pid and the CPU seconds (user + system) it used."""
    found: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Fields after the command name (which may hold spaces) in /proc/<pid>/stat.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS)
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and every live descendant."""
    table = processes()
    parents = {child: parent for child, (parent, _) in table.items()}
    times = {child: seconds for child, (_, seconds) in table.items()}
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(times.get(member, 0.0) for member in tree)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


@dataclass
class Phase:
    """What one phase measured."""

    name: str
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    codes: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per process in the phase
    # CPU seconds per process after the phase, while the runs it triggered finish: part of what
    # its calls cost (measured from the end of the load, the worker's would leave out the runs
    # still queued then, and the more of them the faster the API answered).
    cpu_after: dict[str, float] = field(default_factory=dict)

    def rows(self) -> list[str]:
        every = [x for xs in self.latencies.values() for x in xs]
        lines = [
            f"{self.name}: {len(every)} calls in {self.seconds:.1f} s = "
            f"{len(every) / self.seconds:.1f}/s; p50 {pct(every, 0.5):.0f} ms, "
            f"p99 {pct(every, 0.99):.0f} ms; answers {dict(self.codes)}"
        ]
        for kind, xs in self.latencies.items():
            lines.append(
                f"  {kind:<16} {len(xs):>6}  p50 {pct(xs, 0.5):>6.0f} ms"
                f"  p99 {pct(xs, 0.99):>6.0f} ms"
            )
        if self.cpu and every:
            shares = ", ".join(
                f"{name} {(seconds + self.cpu_after.get(name, 0.0)) * 1000 / len(every):.1f} ms"
                for name, seconds in self.cpu.items()
            )
            busy = sum(self.cpu.values()) / (self.seconds * (os.cpu_count() or 1))
            lines.append(
                f"  CPU per call: {shares}, the runs' finish after the load included; "
                f"during the load these processes kept the cores {busy:.0%} busy"
            )
        lines += [f"  error: {e}" for e in self.errors[:5]]
        return lines


class Deployment:
    """Temporal, one worker and (per phase) an API process on loopback, in one directory."""

    def __init__(self, root: Path, index_url: str) -> None:
        self.root = root
        self.index_url = index_url
        temporal_port, ui_port = free_port(), free_port()
        self.temporal = DevServer(root / "temporal", port=temporal_port, ui_port=ui_port)
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.task_queue = f"load-{uuid.uuid4().hex[:8]}"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.worker: subprocess.Popen[bytes] | None = None

    def cpu(self, api: subprocess.Popen[bytes] | None) -> dict[str, float]:
        """CPU seconds so far of the API (with its worker processes), our worker and Temporal."""
        assert self.temporal.process is not None and self.worker is not None
        found = {
            "Temporal": tree_cpu(self.temporal.process.pid),
            "worker": tree_cpu(self.worker.pid),
        }
        if api is not None:
            found["API"] = tree_cpu(api.pid)
        found["load"] = tree_cpu(os.getpid()) - sum(found.values())  # this process alone
        return found

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SCHEDULER_")}
        return base | {
            "AGENT_SCHEDULER_DATA_DIR": str(self.root / "data"),
            "AGENT_SCHEDULER_DATABASE_URL": self.index_url,
            "AGENT_SCHEDULER_TEMPORAL_ADDRESS": self.temporal.address,
            "AGENT_SCHEDULER_TASK_QUEUE": self.task_queue,
            "AGENT_SCHEDULER_PORT": str(self.api_port),
        }

    def spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        with (self.root / f"{name}.log").open("ab") as out:
            process = subprocess.Popen(
                args, stdout=out, stderr=out, stdin=subprocess.DEVNULL, env=self.env()
            )
        self.processes.append(process)
        return process

    async def wait_for_log(self, name: str, text: str, process: subprocess.Popen[bytes]) -> None:
        log = self.root / f"{name}.log"
        started = time.monotonic()
        while text not in (log.read_text(errors="replace") if log.exists() else ""):
            if process.poll() is not None or time.monotonic() - started > 60:
                raise RuntimeError(f"{name} did not start:\n{log.read_text()[-2000:]}")
            await asyncio.sleep(0.2)

    async def start_api(self, workers: int) -> subprocess.Popen[bytes]:
        process = self.spawn([CLI, "api", "--workers", str(workers)], f"api-{workers}")
        started = time.monotonic()
        async with httpx.AsyncClient() as http:
            while True:
                try:
                    if (await http.get(f"{self.api_url}/healthz")).status_code == 200:
                        return process
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() - started > 60:
                    raise RuntimeError("the API did not start")
                await asyncio.sleep(0.2)

    def key(self) -> str:
        created = subprocess.run(
            [CLI, "keys", "create", "--owner", "load"],
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=60,
            check=True,
        )
        return created.stdout.strip().splitlines()[-1]

    def running_runs(self) -> int:
        engine = sa.create_engine(sync_url(self.index_url), poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as connection:
                query = "SELECT count(*) FROM runs WHERE status IN ('pending', 'running')"
                return int(connection.execute(sa.text(query)).scalar_one())
        finally:
            engine.dispose()

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def run_clients(
    clients: int, seconds: float, one: Callable[[int], Awaitable[tuple[str, int, str]]]
) -> tuple[dict[str, list[float]], Counter[int], list[str], float]:
    """``clients`` loops calling ``one(index)`` until ``seconds`` have passed."""
    latencies: dict[str, list[float]] = {}
    codes: Counter[int] = Counter()
    errors: list[str] = []
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds

    async def loop() -> None:
        while time.monotonic() < deadline:
            index = next(counter)
            started = time.monotonic()
            kind, code, error = await one(index)
            latencies.setdefault(kind, []).append(time.monotonic() - started)
            codes[code] += 1
            if error:
                errors.append(error)

    started = time.monotonic()
    await asyncio.gather(*(loop() for _ in range(clients)))
    return latencies, codes, errors, time.monotonic() - started


async def api_phase(
    deployment: Deployment, key: str, workers: int, clients: int, seconds: float
) -> Phase:
    process = await deployment.start_api(workers)
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    try:
        async with httpx.AsyncClient(
            base_url=deployment.api_url, headers=headers, timeout=60, limits=limits
        ) as http:
            jobs = []
            for n in range(SEED_JOBS):
                body = {"name": f"seed {n}", "goal": "hi", "agent_id": "echo", "schedule": YEARLY}
                created = await http.post(f"{BASE}/jobs", json=body)
                created.raise_for_status()
                jobs.append(created.json()["id"])

            async def one(index: int) -> tuple[str, int, str]:
                kind = MIX[index % len(MIX)]
                if kind == "list":
                    answer = await http.get(f"{BASE}/jobs?limit=50")
                elif kind == "create":
                    body = {"name": f"load {index}", "goal": "hi", "agent_id": "echo"}
                    answer = await http.post(f"{BASE}/jobs", json=body | {"schedule": YEARLY})
                else:
                    answer = await http.post(f"{BASE}/jobs/{jobs[index % len(jobs)]}/trigger")
                error = "" if answer.is_success else f"{kind} {answer.status_code} {answer.text}"
                return kind, answer.status_code, error[:300]

            before = deployment.cpu(process)
            latencies, codes, errors, elapsed = await run_clients(clients, seconds, one)
            # The same instant starts the count of the runs' finish: the worker goes on
            # while the API stops.
            at_end = deployment.cpu(process)
            cpu = {k: v - before[k] for k, v in at_end.items()}
    finally:
        deployment.stop(process)
    name = f"API, {workers} process{'es' if workers > 1 else ''}"
    phase = Phase(name, elapsed, latencies, codes, errors, cpu)
    settle = time.monotonic()
    while deployment.running_runs() and time.monotonic() - settle < SETTLE_LIMIT:
        await asyncio.sleep(0.2)
    print(f"({name}: triggered runs finished {time.monotonic() - settle:.0f} s after the load)")
    after = deployment.cpu(None)
    phase.cpu_after = {k: after[k] - at_end[k] for k in ("Temporal", "worker")}
    return phase


async def temporal_phase(deployment: Deployment, clients: int, seconds: float) -> Phase:
    """The one Temporal call of a create and of a trigger, with the same payload shapes, from
    ``clients`` concurrent callers on one client (as one API process has)."""
    client = await Client.connect(
        deployment.temporal.address, data_converter=pydantic_data_converter
    )
    queue = f"{deployment.task_queue}-bare"  # no worker: the start is what is timed

    async def one(index: int) -> tuple[str, int, str]:
        job_id = f"job_bare{index:08d}"
        attributes = run_attributes(job_id, "load", "schedule")
        memo = {"name": f"load {index}", "agent_id": "echo", "goal": "hi"}
        run_input = JobRunInput(job_id=job_id, owner="load")
        # Lists never reach Temporal: creates and triggers alternate (the API's 30 % each).
        if index % 2:
            await client.start_workflow(
                RUN_WORKFLOW,
                run_input,
                id=f"run_bare{index:016d}",
                task_queue=queue,
                search_attributes=run_attributes(job_id, "load", "manual"),
                memo=memo,
                static_summary=f"load {index} (manual)",
                execution_timeout=timedelta(minutes=10),
            )
            return "start_workflow", 200, ""
        await client.create_schedule(
            job_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    RUN_WORKFLOW,
                    run_input,
                    id=f"run_bare{index:08d}",
                    task_queue=queue,
                    typed_search_attributes=attributes,
                    memo=memo,
                    static_summary=f"load {index} (echo)",
                ),
                spec=ScheduleSpec(cron_expressions=["0 0 1 1 *"], time_zone_name="UTC"),
            ),
            memo={"owner": "load", "job_id": job_id},
            search_attributes=attributes,
        )
        return "create_schedule", 200, ""

    before = deployment.cpu(None)
    latencies, codes, errors, elapsed = await run_clients(clients, seconds, one)
    cpu = {k: v - before[k] for k, v in deployment.cpu(None).items()}
    return Phase("Temporal alone", elapsed, latencies, codes, errors, cpu)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--api-workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = args.database_url or f"sqlite+aiosqlite:///{root / 'index.db'}"
        deployment = Deployment(root, url)
        assert port_is_free("127.0.0.1", deployment.api_port)
        await deployment.temporal.start()
        try:
            worker = deployment.spawn([CLI, "worker"], "worker")
            deployment.worker = worker
            await deployment.wait_for_log("worker", "worker polling", worker)
            key = deployment.key()
            phases = [
                await api_phase(deployment, key, workers, args.clients, args.seconds)
                for workers in args.api_workers
            ]
            phases.append(await temporal_phase(deployment, args.clients, args.seconds))
        finally:
            for process in deployment.processes:
                deployment.stop(process)
            await deployment.temporal.stop()
    print(f"\n{args.clients} clients, {args.seconds:.0f} s each; index {url.split(':')[0]}")
    for phase in phases:
        print("\n".join(phase.rows()))


if __name__ == "__main__":
    asyncio.run(main())
