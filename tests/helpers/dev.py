"""``agent-scheduler dev`` as tests run it: on free ports, ready, killed at the end."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.api import JOBS
from tests.helpers.processes import CLI, clean_env, dev_command, free_ports

KEY_LINE = re.compile(r"API key:\s+(sk_\S+)")


@dataclass
class Dev:
    process: subprocess.Popen[bytes]
    api: str
    ui: str
    temporal: str
    key: str
    stdout: Path
    stderr: Path

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    def create_job(self, **fields: Any) -> dict[str, Any]:
        """Create a job (a daily echo job, with ``fields`` on top) with the dev key."""
        body = {
            "name": "test job",
            "goal": "answer",
            "agent_id": "echo",
            "schedule": {"type": "cron", "expression": "0 8 * * *", "timezone": "UTC"},
        } | fields
        answer = httpx.post(f"{self.api}{JOBS}", json=body, headers=self.headers())
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    def trigger_to_the_end(self, job_id: str, **headers: str) -> dict[str, Any]:
        """Trigger a run of ``job_id`` (with ``headers`` too) and wait until it is no longer
        running."""
        started = httpx.post(f"{self.api}{JOBS}/{job_id}/trigger", headers=self.headers() | headers)
        assert started.status_code == 202, started.text
        url = f"{self.api}{JOBS}/{job_id}/runs/{started.json()['run_id']}"

        def ended() -> dict[str, Any] | None:
            run: dict[str, Any] = httpx.get(url, headers=self.headers()).json()
            return run if run["status"] != "running" else None

        return dict(until("the run's end", ended))

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Stop it as a service manager (SIGTERM) or a terminal (SIGINT) would; the exit code."""
        self.process.send_signal(sig)
        return self.process.wait(timeout=15)


def wait_for(
    what: str, check: Callable[[], object], dev_process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        assert dev_process.poll() is None, f"dev exited early:\n{log.read_text()[-3000:]}"
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} not ready in time:\n{log.read_text()[-3000:]}")


@contextmanager
def running_dev(
    data_dir: Path, logs: Path, *, env: dict[str, str] | None = None, agents: Path | None = None
) -> Iterator[Dev]:
    """``agent-scheduler dev`` on free ports, ready (API healthy, key printed, UI answering),
    with ``env`` added to a clean environment."""
    ports = free_ports(3)
    port, temporal_port, ui_port = ports
    logs.mkdir(parents=True, exist_ok=True)
    stdout, stderr = logs / "stdout", logs / "stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            dev_command(CLI, data_dir, ports=ports, agents=agents),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=clean_env() | (env or {}),
        )
    api, ui = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}"
    try:
        wait_for("API key", lambda: KEY_LINE.search(stdout.read_text()), process, stderr)
        wait_for("API", lambda: httpx.get(f"{api}/healthz").status_code == 200, process, stderr)
        wait_for("Temporal UI", lambda: httpx.get(ui).status_code == 200, process, stderr)
        match = KEY_LINE.search(stdout.read_text())
        assert match is not None
        yield Dev(process, api, ui, f"127.0.0.1:{temporal_port}", match[1], stdout, stderr)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def until(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    """What ``check()`` answers once it is truthy (HTTP errors count as not yet); fails naming
    ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if found := check():
                return found
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout}s")
