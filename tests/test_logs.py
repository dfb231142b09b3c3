"""Logs an operator can search (docs/operations.md, "Logs"): with
``AGENT_SCHEDULER_LOG_FORMAT=json`` every line is one JSON object with the ids it was written
for; the default stays readable text."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.worker import Worker

from api.core import logs
from api.core.settings import Settings
from tests.helpers.api import Api, create, trigger, wait_run
from tests.helpers.processes import CLI, clean_env, free_ports
from tests.helpers.served import minted_key
from tests.helpers.servers import Reply, ScriptedServer, serve


def lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` as the JSON object it must be."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_json_line_carries_the_ids_bound_to_its_task_and_its_traceback() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.formatter("json"))
    log = logging.getLogger("test_logs.unit")
    log.addHandler(handler)
    log.propagate = False

    def request() -> None:
        logs.bind(owner="alice", job_id="job_1", run_id=None)
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("while %s", "answering")
        log.warning("named", extra={"run_id": "run_9"})

    try:
        contextvars.copy_context().run(request)
        log.warning("outside any request")
    finally:
        log.removeHandler(handler)
    failed, named, outside = lines(out.getvalue())
    assert failed["level"] == "ERROR" and failed["message"] == "while answering"
    assert failed["logger"] == "test_logs.unit" and failed["time"].endswith("+00:00")
    assert (failed["owner"], failed["job_id"]) == ("alice", "job_1") and "run_id" not in failed
    assert "ValueError: boom" in failed["exception"]
    assert named["run_id"] == "run_9" and named["owner"] == "alice"
    assert "owner" not in outside  # another task's ids never leak into it


def test_text_stays_the_default() -> None:
    assert Settings().log_format == "text"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    assert logs.formatter("text").format(record).endswith(" INFO x: hello you")


@pytest.fixture
def agent_server() -> Iterator[ScriptedServer]:
    yield from serve()


@pytest.fixture
def settings(settings: Settings, agent_server: ScriptedServer, tmp_path: Path) -> Settings:
    path = tmp_path / "agents.toml"
    path.write_text(f'[agents.web]\nkind = "http"\nurl = "{agent_server.url}/web"\n')
    settings.agents_file = path
    return settings


async def test_the_worker_logs_a_failed_agent_call_with_its_run_id(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script("/web", Reply(400, {"error": "no"}))
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.formatter("json"))
    logging.getLogger("activities.agents").addHandler(handler)
    try:
        alice = await api.headers("alice")
        job = await create(api, alice, agent_id="web")
        run_id = await trigger(api, alice, job["id"])
        assert (await wait_run(api, alice, job["id"], run_id))["status"] == "failed"
    finally:
        logging.getLogger("activities.agents").removeHandler(handler)
    (failed,) = [line for line in lines(out.getvalue()) if "failed on attempt" in line["message"]]
    assert failed["level"] == "WARNING" and failed["run_id"] == run_id


@pytest.mark.server  # starts `agent-scheduler api`
def test_the_api_process_logs_json_lines_with_the_callers_ids(tmp_path: Path) -> None:
    """`agent-scheduler api` with the JSON format: every line it writes parses, and the access
    line of an authenticated request names its owner and job."""
    (port,) = free_ports(1)
    index = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'index.db'}")
    env = clean_env() | {
        "AGENT_SCHEDULER_DATA_DIR": str(tmp_path),
        "AGENT_SCHEDULER_DATABASE_URL": index.resolved_database_url,
        "AGENT_SCHEDULER_PORT": str(port),
        "AGENT_SCHEDULER_TEMPORAL_ADDRESS": "127.0.0.1:1",  # these requests need only the index
        "AGENT_SCHEDULER_TICK_INTERVAL_SECONDS": "0",
        "AGENT_SCHEDULER_LOG_FORMAT": "json",
    }
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        process = subprocess.Popen([CLI, "api"], stdout=out, stderr=out, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        key = asyncio.run(minted_key(index, "alice"))
        answer = httpx.get(
            f"{url}/api/scheduler/jobs/job_missing", headers={"Authorization": f"Bearer {key}"}
        )
        assert answer.status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=15)
    written = lines(log.read_text())
    assert {"time", "level", "logger", "message"} <= set(written[0])
    (access,) = [line for line in written if "/api/scheduler/jobs/job_missing" in line["message"]]
    assert access["logger"] == "uvicorn.access" and "404" in access["message"]
    assert (access["owner"], access["job_id"]) == ("alice", "job_missing")
