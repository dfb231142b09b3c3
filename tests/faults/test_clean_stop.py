"""``agent-scheduler dev`` stops within 10 s of SIGTERM or Ctrl-C (SIGINT) with no process left,
also right after a restart with runs in flight (docs/operations.md, "Stopping")."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.faults.harness import (
    AGENT_ID,
    BASE,
    CountingAgent,
    log,
    session_processes,
)
from tests.helpers.processes import CLI, dev_command, free_ports

STOP_WITHIN = 10.0
KEY_LINE = re.compile(r"API key:\s+(sk_\S+)")


@contextmanager
def dev(
    data_dir: Path, agents: Path, logs: Path, *, starting: str | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str, dict[str, str]]]:
    """``agent-scheduler dev`` on free ports in a session of its own, ready to serve (or, with
    ``starting``, as soon as it logged that line: still starting)."""
    ports = free_ports(3)
    port = ports[0]
    seen = logs.read_text().count(starting) if starting and logs.exists() else 0
    out = logs.open("ab")
    process = subprocess.Popen(
        dev_command(CLI, data_dir, ports=ports, agents=agents),
        stdout=out,
        stderr=out,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, logs.read_text()[-3000:]
            assert time.monotonic() < deadline, f"dev not ready:\n{logs.read_text()[-3000:]}"
            if starting and logs.read_text().count(starting) > seen:
                break
            key = KEY_LINE.findall(logs.read_text())
            try:
                if key and httpx.get(f"{api}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield process, api, {"Authorization": f"Bearer {key[-1]}"} if not starting else {}
    finally:
        for pid in session_processes(process.pid):
            with_suppressed_kill(pid)
        if process.poll() is None:
            process.kill()
        process.wait()
        out.close()


def with_suppressed_kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def start_runs(api: str, headers: dict[str, str], agent: CountingAgent, count: int) -> None:
    """Create a job and trigger ``count`` runs; return once all of them are calling the agent."""
    job = httpx.post(
        f"{api}{BASE}/jobs",
        headers=headers,
        json={
            "name": "slow",
            "goal": "probe",
            "agent_id": AGENT_ID,
            "schedule": {"type": "cron", "expression": "0 0 1 1 *"},
        },
        timeout=30,
    )
    assert job.status_code == 201, job.text
    run_ids = set()
    for _ in range(count):
        answer = httpx.post(
            f"{api}{BASE}/jobs/{job.json()['id']}/trigger", headers=headers, timeout=30
        )
        assert answer.status_code == 202, answer.text
        run_ids.add(answer.json()["run_id"])
    deadline = time.monotonic() + 30
    while agent.in_flight(run_ids) < count:
        assert time.monotonic() < deadline, "runs not calling the agent within 30 s"
        time.sleep(0.1)


@contextmanager
def stalled_client(api: str) -> Iterator[None]:
    """A client that sent a request's headers and only part of its body, then went quiet (a
    slow or stuck client, a proxy holding a connection): the API must not wait for it."""
    host, port = api.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(
            f"POST {BASE}/jobs HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{".encode()
        )
        time.sleep(0.2)
        yield


def stop(process: subprocess.Popen[bytes], sig: signal.Signals, logs: Path) -> float:
    """Send ``sig``; the seconds until the whole session is gone. Fails past ``STOP_WITHIN``."""
    tree = session_processes(process.pid)
    assert len(tree) >= 2, "dev should have the Temporal server as a child"
    started = time.monotonic()
    process.send_signal(sig)
    while session_processes(process.pid) or process.poll() is None:
        took = time.monotonic() - started
        assert took < STOP_WITHIN, (
            f"{sig.name}: still alive after {took:.0f} s: {session_processes(process.pid)}\n"
            + logs.read_text()[-3000:]
        )
        time.sleep(0.05)
    assert process.wait() == 0, logs.read_text()[-3000:]
    return time.monotonic() - started


def test_dev_stops_within_10_s_with_runs_in_flight_also_after_a_restart(
    tmp_path: Path, agent: CountingAgent
) -> None:
    agent.delay = 25.0  # longer than any stop may take: the runs are in flight throughout
    agents = tmp_path / "agents.toml"
    agents.write_text(f'[agents.{AGENT_ID}]\nkind = "http"\nurl = "{agent.url}"\ntimeout = 60\n')
    data_dir, logs = tmp_path / "data", tmp_path / "dev.log"
    took: list[tuple[str, float]] = []
    for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGINT):
        # The first start has no runs yet; each restart finds the last one's still in flight.
        with dev(data_dir, agents, logs) as (process, api, headers):
            start_runs(api, headers, agent, 5)
            with stalled_client(api):
                took.append((sig.name, stop(process, sig, logs)))
    # Stopped while starting: the Temporal server is coming up, runs from before are in flight.
    with dev(data_dir, agents, logs, starting="Starting the Temporal dev server") as (process, *_):
        time.sleep(0.5)
        took.append(("SIGTERM while starting", stop(process, signal.SIGTERM, logs)))
    log("dev stopped in " + ", ".join(f"{name} {s:.1f} s" for name, s in took))


WATCHDOG = """
import asyncio, os, signal, time
from api.cli import supervisor

async def main() -> None:
    stopper = supervisor.Stopper(hard_stop_after=1.0)
    stopper.install()
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.sleep(0.1)
    time.sleep(30)  # a stop that hangs, the loop blocked with it

asyncio.run(main())
"""


def test_a_stop_that_hangs_is_cut_short_by_the_watchdog() -> None:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", WATCHDOG], capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 1, done.stderr
    assert "killed" in done.stderr
    assert time.monotonic() - started < 10
