"""Agent kinds end to end (docs/api.md, "Agents"): openai, command and http edge cases, timeouts."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest
from temporalio.worker import Worker

from api.core.settings import Settings
from tests.helpers.api import JOBS, Api, create, eventually, trigger, wait_run
from tests.helpers.servers import Reply, ScriptedServer

AGENTS_TOML = """
[agents.llm]
kind = "openai"
base_url = "{url}/v1"
model = "tiny-1"
api_key_env = "TEST_LLM_KEY"
system = "Answer briefly."

[agents.web]
kind = "http"
url = "{url}/web"

[agents.pidfile]
kind = "command"
command = ["{python}", "-c", "{pidfile_script}"]

[agents.plain]
kind = "command"
command = ["{python}", "-c", "print('just text')"]

[agents.broken]
kind = "command"
command = ["{python}", "-c", "import sys; sys.stderr.write('disk full'); sys.exit(3)"]
"""

# Writes its pid where the test can see it, then hangs.
PIDFILE_SCRIPT = (
    "import os, time; open(os.environ['PIDFILE'], 'w').write(str(os.getpid())); time.sleep(120)"
)


@pytest.fixture
def pidfile(tmp_path: Path) -> Path:
    return tmp_path / "agent.pid"


@pytest.fixture
def settings(
    settings: Settings,
    agent_server: ScriptedServer,
    tmp_path: Path,
    pidfile: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    monkeypatch.setenv("TEST_LLM_KEY", "sk-test")
    monkeypatch.setenv("PIDFILE", str(pidfile))
    path = tmp_path / "agents.toml"
    path.write_text(
        AGENTS_TOML.format(
            url=agent_server.url, python=sys.executable, pidfile_script=PIDFILE_SCRIPT
        )
    )
    settings.agents_file = path
    return settings


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


async def test_openai_agent_sends_a_chat_completion_and_parses_json(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script(
        "/v1/chat/completions",
        Reply(200, {"choices": [{"message": {"role": "assistant", "content": '{"up": true}'}}]}),
    )
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="llm", goal="Is BTC up?")
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))

    assert run["status"] == "completed"
    assert run["output"] == '{"up": true}' and run["data"] == {"up": True}
    (call,) = agent_server.calls("/v1/chat/completions")
    assert call.headers["Authorization"] == "Bearer sk-test"
    # The idempotency key rides in a header only: the body stays a plain chat completion.
    assert call.headers["Idempotency-Key"] == f"{run['id']}/attempt/1"
    assert call.body == {
        "model": "tiny-1",
        "messages": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Is BTC up?"},
        ],
    }


async def test_openai_agent_plain_text_answer_has_no_data(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script(
        "/v1/chat/completions",
        Reply(200, {"choices": [{"message": {"role": "assistant", "content": "Yes."}}]}),
    )
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="llm")
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "completed" and run["output"] == "Yes." and run["data"] == {}


async def test_slow_agent_times_out_per_attempt(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script("/web", Reply(200, {"output": "too late"}, delay=-1))
    alice = await api.headers("alice")
    job = await create(
        api,
        alice,
        agent_id="web",
        timeout_seconds=1,
        retry={"max_attempts": 2, "strategy": "fixed", "base_delay": 1},
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))

    assert run["status"] == "timed_out" and run["attempts"] == 2
    assert [e["kind"] for e in run["attempt_errors"]] == ["timeout", "timeout"]
    assert len(agent_server.calls("/web")) == 2


async def test_http_agent_answer_that_is_not_the_documented_json_is_not_retried(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script("/web", Reply(200, ["not", "an", "object"]))
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="web", retry={"max_attempts": 3, "strategy": "fixed", "base_delay": 1}
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "failed" and run["attempts"] == 1
    assert "not" in run["error"] and "output" in run["error"]


async def test_command_plain_stdout_is_the_output(api: Api, worker: Worker) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="plain")
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "completed" and run["output"] == "just text" and run["data"] == {}


async def test_command_non_zero_exit_fails_with_its_stderr(api: Api, worker: Worker) -> None:
    alice = await api.headers("alice")
    job = await create(
        api,
        alice,
        agent_id="broken",
        retry={"max_attempts": 2, "strategy": "fixed", "base_delay": 1},
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "failed" and run["attempts"] == 2
    assert "code 3" in run["error"] and "disk full" in run["error"]


async def started_pid(pidfile: Path) -> int:
    """The pid the command agent wrote once it started, checked alive."""
    deadline = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline, "the command never started"
        await asyncio.sleep(0.1)
    pid = int(pidfile.read_text())
    assert alive(pid)
    return pid


async def test_cancel_kills_the_command_process(api: Api, worker: Worker, pidfile: Path) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="pidfile")
    run_id = await trigger(api, alice, job["id"])
    pid = await started_pid(pidfile)

    response = await api.http.post(f"{JOBS}/{job['id']}/runs/{run_id}/cancel", headers=alice)
    assert response.status_code == 202
    run = await wait_run(api, alice, job["id"], run_id, timeout=5)
    assert run["status"] == "cancelled"
    assert not alive(pid), "the agent's process outlived its cancelled run"


async def test_command_outliving_the_timeout_is_killed_and_the_run_timed_out(
    api: Api, worker: Worker, pidfile: Path
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="pidfile", timeout_seconds=2)
    run_id = await trigger(api, alice, job["id"])
    pid = await started_pid(pidfile)

    run = await wait_run(api, alice, job["id"], run_id, timeout=15)
    assert run["status"] == "timed_out" and run["attempts"] == 1
    assert [e["kind"] for e in run["attempt_errors"]] == ["timeout"]
    assert "did not finish within 2s" in run["error"]

    async def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    await eventually(gone, "the timed-out agent's process being gone", timeout=5)
