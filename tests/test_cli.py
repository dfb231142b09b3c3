"""The ``agent-scheduler`` command as a user runs it: real processes, real ports
(docs/operations.md, "Deploying")."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers.api import JOBS
from tests.helpers.dev import KEY_LINE, Dev, running_dev, wait_for
from tests.helpers.processes import CLI, clean_env, free_ports

pytestmark = pytest.mark.server  # runs `agent-scheduler` processes (tests/README.md)

BIN = Path(sys.executable).parent


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], capture_output=True, text=True, env=clean_env(), timeout=60, check=check
    )


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc (threads' children included)."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        for task in Path(f"/proc/{pending.pop()}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    pending.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


PRICE_ALERT = {
    "name": "Price alert",
    "goal": "Check BTC price and alert if >5% change",
    "agent_id": "echo",
    "schedule": {"type": "every", "interval": 3600, "timezone": "UTC"},
    "delivery": {"channel": "slack:#alerts", "format": "markdown"},
    "condition": {"type": "expression", "expression": "price_change_pct > 0.05"},
    "retry": {"max_attempts": 3, "strategy": "exponential", "base_delay": 60},
}


def temporal_schedule(dev: Dev, schedule_id: str) -> dict[str, Any]:
    """The schedule as the Temporal server itself describes it (its own CLI)."""
    described = subprocess.run(
        [
            str(BIN / "temporal"),
            "schedule",
            "describe",
            "--address",
            dev.temporal,
            "--schedule-id",
            schedule_id,
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    result: dict[str, Any] = json.loads(described.stdout)
    return result


def test_dev_runs_everything_stops_cleanly_and_restarts_with_its_state(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"

    with running_dev(data_dir, tmp_path / "first") as dev:
        assert f"API:          {dev.api}" in dev.stdout.read_text()
        assert f"Temporal UI:  {dev.ui}" in dev.stdout.read_text()
        assert f"Dashboard:    {dev.api}/ui" in dev.stdout.read_text()
        assert httpx.get(f"{dev.api}/ui").status_code == 200
        assert httpx.get(f"{dev.api}{JOBS}").status_code == 401
        # The seed's "Price alert" (with the echo agent): no Slack token, so dev's outbox.
        alert = httpx.post(f"{dev.api}{JOBS}", headers=dev.headers(), json=PRICE_ALERT)
        assert alert.status_code == 201, alert.text
        httpx.delete(f"{dev.api}{JOBS}/{alert.json()['id']}", headers=dev.headers())
        listed = httpx.get(f"{dev.api}{JOBS}", headers=dev.headers())
        assert listed.status_code == 200 and listed.json()["count"] == 0
        created = httpx.post(
            f"{dev.api}{JOBS}",
            headers=dev.headers(),
            json={
                "name": "hourly",
                "goal": "say hi",
                "agent_id": "echo",
                "schedule": {"type": "every", "interval": 3600},
            },
        )
        assert created.status_code == 201, created.text
        job = created.json()
        assert job["temporal_ui_url"].startswith(f"{dev.ui}/namespaces/default/schedules/")
        spec = temporal_schedule(dev, job["id"])["schedule"]["spec"]
        assert spec["interval"] == [{"interval": "3600s"}]
        # The worker runs inside dev: a triggered run completes with the echo agent's output.
        trigger = httpx.post(f"{dev.api}{JOBS}/{job['id']}/trigger", headers=dev.headers())
        assert trigger.status_code == 202, trigger.text
        run_url = f"{dev.api}{JOBS}/{job['id']}/runs/{trigger.json()['run_id']}"
        wait_for(
            "triggered run",
            lambda: httpx.get(run_url, headers=dev.headers()).json().get("status") == "completed",
            dev.process,
            dev.stderr,
        )
        assert httpx.get(run_url, headers=dev.headers()).json()["output"] == "say hi"

        children = descendants(dev.process.pid)
        assert children, "the Temporal dev server should be a child process"

        started = time.monotonic()
        assert dev.stop() == 0, dev.stderr.read_text()[-3000:]
        assert time.monotonic() - started < 15
        time.sleep(0.2)
        assert not [pid for pid in children if alive(pid)], "a child survived dev"

    with running_dev(data_dir, tmp_path / "second") as dev:
        assert dev.key == printed_key(tmp_path / "first")
        listed = httpx.get(f"{dev.api}{JOBS}", headers=dev.headers())
        assert listed.status_code == 200
        assert [j["id"] for j in listed.json()["jobs"]] == [job["id"]]
        runs = httpx.get(f"{dev.api}{JOBS}/{job['id']}/runs", headers=dev.headers()).json()
        assert [r["status"] for r in runs["runs"]] == ["completed"]
        again = httpx.get(f"{dev.api}{JOBS}/{job['id']}", headers=dev.headers()).json()
        assert again["status"] == "active" and again["next_run_at"]
        assert temporal_schedule(dev, job["id"])["schedule"]["spec"] == spec

        # A key made with the CLI next to the running server works until it is revoked.
        key = cli("keys", "create", "--owner", "bob", "--data-dir", str(data_dir))
        bob = key.stdout.strip().splitlines()[-1]
        assert httpx.get(f"{dev.api}{JOBS}", headers=dev.headers(bob)).json()["count"] == 0
        key_id = next(
            line.split()[0]
            for line in cli("keys", "list", "--data-dir", str(data_dir)).stdout.splitlines()
            if " bob " in line
        )
        cli("keys", "revoke", key_id, "--data-dir", str(data_dir))
        assert httpx.get(f"{dev.api}{JOBS}", headers=dev.headers(bob)).status_code == 401
        assert dev.stop(signal.SIGINT) == 0, dev.stderr.read_text()[-3000:]


def printed_key(logs: Path) -> str:
    match = KEY_LINE.search((logs / "stdout").read_text())
    assert match is not None
    return match[1]


def test_keys_create_list_revoke(tmp_path: Path) -> None:
    # Where there is no index yet, list says so and makes none (every keys command names it).
    nowhere = tmp_path / "nowhere"
    missing = cli("keys", "list", "--data-dir", str(nowhere), check=False)
    assert missing.returncode == 1 and f"No index at {nowhere / 'index.db'}" in missing.stderr
    assert not nowhere.exists()

    data_dir = str(tmp_path)
    created = cli("keys", "create", "--owner", "alice", "--data-dir", data_dir)
    assert f"Index: {tmp_path / 'index.db'} (new)" in created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"sk_[A-Za-z0-9_-]{20,}", key)
    key_id = re.search(r"key_\w+", created.stderr)
    assert key_id is not None

    listing = cli("keys", "list", "--data-dir", data_dir).stdout
    row = next(line for line in listing.splitlines() if key_id[0] in line)
    assert "alice" in row and key[:10] in row and row.rstrip().endswith("-")
    assert key not in listing  # never the key itself

    assert cli("keys", "revoke", key_id[0], "--data-dir", data_dir).returncode == 0
    row = next(
        line
        for line in cli("keys", "list", "--data-dir", data_dir).stdout.splitlines()
        if key_id[0] in line
    )
    assert not row.rstrip().endswith("-")  # a revocation date now

    assert cli("keys", "revoke", "key_nope", "--data-dir", data_dir, check=False).returncode == 1
    empty = cli("keys", "create", "--owner", " ", "--data-dir", data_dir, check=False)
    assert empty.returncode == 2 and empty.stdout == ""


def production_env(temporal_env: WorkflowEnvironment, data_dir: Path) -> tuple[int, dict[str, str]]:
    """A free API port and the environment of ``api``/``worker`` on the session's Temporal."""
    (port,) = free_ports(1)
    return port, clean_env() | {
        "AGENT_SCHEDULER_DATA_DIR": str(data_dir),
        "AGENT_SCHEDULER_TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "AGENT_SCHEDULER_TASK_QUEUE": f"test-{port}",
        "AGENT_SCHEDULER_PORT": str(port),
    }


def test_api_and_worker_are_long_running_processes(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """The production commands run against an existing Temporal and index; SIGTERM exits 0."""
    port, env = production_env(temporal_env, tmp_path)
    log = tmp_path / "log"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with log.open("wb") as out:
            processes.append(subprocess.Popen([CLI, "api"], stdout=out, stderr=out, env=env))
            health = f"http://127.0.0.1:{port}/healthz"
            wait_for("API", lambda: httpx.get(health).status_code == 200, processes[0], log)
            # The worker after the API, as in compose: each migrates the index when it starts.
            processes.append(subprocess.Popen([CLI, "worker"], stdout=out, stderr=out, env=env))
        wait_for("worker", lambda: b"worker polling" in log.read_bytes(), processes[1], log)
        time.sleep(0.5)
        for process in processes:
            assert process.poll() is None, log.read_text()[-3000:]
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=15) for process in processes]
        assert codes == [0, 0], log.read_text()[-3000:]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_api_workers_serve_one_port_from_several_processes(
    temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    """``api --workers 2``: two API processes answer on one port; SIGTERM stops them all."""
    port, env = production_env(temporal_env, tmp_path)
    env["AGENT_SCHEDULER_TICK_INTERVAL_SECONDS"] = "0"
    key = cli("keys", "create", "--owner", "alice", "--data-dir", str(tmp_path)).stdout.split()[-1]
    log = tmp_path / "log"
    with log.open("wb") as out:
        process = subprocess.Popen([CLI, "api", "--workers", "2"], stdout=out, stderr=out, env=env)
    try:
        health = f"http://127.0.0.1:{port}/healthz"
        wait_for("API", lambda: httpx.get(health).status_code == 200, process, log)
        wait_for(
            "both API processes",
            lambda: log.read_text().count("Application startup complete") == 2,
            process,
            log,
        )
        served = {len(descendants(process.pid))}
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
            for _ in range(20):
                assert http.get("/api/scheduler/agents").status_code == 200
            assert (
                http.get(
                    "/api/scheduler/agents", headers={"Authorization": "Bearer no"}
                ).status_code
                == 401
            )
        assert min(served) >= 2, log.read_text()[-3000:]
        children = descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0, log.read_text()[-3000:]
        # Multiprocessing's resource tracker, a grandchild, exits once its pipe has closed,
        # a moment after the processes it served: allow every child a few seconds.
        deadline = time.monotonic() + 5
        while (
            lingering := {pid for pid in children if alive(pid)}
        ) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in lingering}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
