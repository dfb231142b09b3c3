"""Logs an operator can search (docs/operations.md, "Logs"): with
``AGENT_SCHEDULER_LOG_FORMAT=json`` every line is one JSON object with the ids it was written
for; the default stays readable text."""

from __future__ import annotations

import contextvars
import io
import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.worker import Worker

from api.core import logs
from api.core.settings import Settings
from tests.helpers.api import Api, create, trigger, wait_run
from tests.helpers.api_process import api_process
from tests.helpers.servers import Reply, ScriptedServer


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
    with api_process(tmp_path, log_format="json") as api:
        answer = httpx.get(
            f"{api.url}/api/scheduler/jobs/job_missing",
            headers={"Authorization": f"Bearer {api.key}"},
        )
        assert answer.status_code == 404
    written = lines(api.log_text())
    assert {"time", "level", "logger", "message"} <= set(written[0])
    (access,) = [line for line in written if "/api/scheduler/jobs/job_missing" in line["message"]]
    assert access["logger"] == "uvicorn.access" and "404" in access["message"]
    assert (access["owner"], access["job_id"]) == ("alice", "job_missing")
