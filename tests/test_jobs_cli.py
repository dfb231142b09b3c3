"""``agent-scheduler jobs …`` run as a user runs it, against a running ``agent-scheduler dev``
(docs/agents.md)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.helpers.processes import CLI, clean_env, dev_command, free_ports
from tests.helpers.servers import ScriptedServer

pytestmark = pytest.mark.server  # runs `agent-scheduler dev` (tests/README.md)

KEY_LINE = re.compile(r"API key:\s+(sk_\S+)")
AGENTS = """
[agents.broken]
kind = "command"
command = ["{python}", "-c", "import sys; sys.stderr.write('disk full'); sys.exit(3)"]
"""


@dataclass
class Dev:
    api: str
    key: str
    data: Path  # its data directory, where it keeps its key

    def jobs(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``agent-scheduler jobs ARGS`` with the API URL and key in its environment."""
        environment = {
            **clean_env(),
            "AGENT_SCHEDULER_API_URL": self.api,
            "AGENT_SCHEDULER_API_KEY": self.key,
            "COLUMNS": "200",
            **(env or {}),
        }
        return subprocess.run(
            [CLI, "jobs", *args],
            capture_output=True,
            text=True,
            env=environment,
            input=stdin,
            timeout=90,
        )

    def json(self, *args: str) -> Any:
        done = self.jobs(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    """``agent-scheduler dev`` on free ports, with a failing ``broken`` agent besides ``echo``."""
    root = tmp_path_factory.mktemp("jobs-cli")
    agents = root / "agents.toml"
    agents.write_text(AGENTS.replace("{python}", sys.executable))
    ports = free_ports(3)
    log = root / "stdout"
    with log.open("wb") as stdout, (root / "stderr").open("wb") as stderr:
        process = subprocess.Popen(
            dev_command(CLI, root / "data", ports=ports, agents=agents),
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            env=clean_env(),
        )
    api = f"http://127.0.0.1:{ports[0]}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (root / "stderr").read_text()[-3000:]
            match = KEY_LINE.search(log.read_text())
            try:
                if match and httpx.get(f"{api}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (root / "stderr").read_text()[-3000:]
            time.sleep(0.2)
        yield Dev(api, match[1], root / "data")
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_create_with_flags_then_list_show_pause_resume_delete(dev: Dev) -> None:
    created = dev.json(
        "create",
        "--name",
        "digest",
        "--goal",
        "Summarize",
        "--agent",
        "echo",
        "--cron",
        "0 8 * * 1-5",
        "--timezone",
        "Europe/Paris",
        "--delivery",
        "webhook:http://127.0.0.1:9/hook",
        "--max-attempts",
        "2",
        "--fallback-agent",
        "broken",
    )
    job_id = created["id"]
    assert created["fallback_agent_ids"] == ["broken"]
    assert created["schedule"] == {
        "type": "cron",
        "expression": "0 8 * * 1-5",
        "timezone": "Europe/Paris",
    }
    assert created["delivery"]["channel"] == "webhook:http://127.0.0.1:9/hook"
    assert created["retry"]["max_attempts"] == 2

    listed = dev.jobs("list")
    assert listed.returncode == 0
    assert job_id in listed.stdout and "digest" in listed.stdout
    assert "At 08:00 AM, Monday through Friday" in listed.stdout  # schedule_description
    assert job_id in [job["id"] for job in dev.json("list")["jobs"]]

    shown = dev.jobs("show", job_id)
    assert shown.returncode == 0 and "Summarize" in shown.stdout and "active" in shown.stdout
    assert "fallback agents" in shown.stdout and "broken" in shown.stdout
    assert dev.json("show", job_id)["name"] == "digest"

    paused = dev.jobs("pause", job_id, "--reason", "quiet week")
    assert paused.returncode == 0 and f"{job_id} (digest) is paused" in paused.stdout
    assert dev.json("show", job_id)["paused_reason"] == "paused by user: quiet week"
    assert dev.json("resume", job_id)["status"] == "active"

    refused = dev.jobs("delete", job_id, stdin="n\n")
    assert refused.returncode == 1 and dev.json("show", job_id)["id"] == job_id
    deleted = dev.jobs("delete", job_id, "--yes")
    assert deleted.returncode == 0 and f"Deleted {job_id}" in deleted.stdout
    gone = dev.jobs("show", job_id)
    assert gone.returncode == 1
    assert f"Job {job_id} not found" in gone.stderr


def test_create_from_words_shows_the_schedule_and_asks(dev: Dev) -> None:
    words = ["--name", "standup", "--goal", "Plan the day", "--agent", "echo"]
    words += ["--schedule", "every weekday at 9am Pacific"]
    declined = dev.jobs("create", *words, stdin="n\n")
    assert declined.returncode == 1
    assert "At 09:00 AM, Monday through Friday, Pacific Time" in declined.stderr
    assert "next: " in declined.stderr and "T09:00:00-0" in declined.stderr
    assert "standup" not in dev.jobs("list").stdout

    accepted = dev.jobs("create", *words, stdin="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert "Created job_" in accepted.stdout
    created = dev.json("create", *words, "--yes")
    assert created["schedule"] == {
        "type": "cron",
        "expression": "0 9 * * 1-5",
        "timezone": "America/Los_Angeles",
    }


def test_the_confirmation_shows_the_parsed_schedules_own_fires_and_warnings(dev: Dev) -> None:
    """The words "every other friday at 5pm" in Berlin are an interval with an offset: the
    preview lists Fridays at 17:00 (the offset kept) and parse-nl's DST note, as create's
    confirmation does."""
    shown = dev.json("preview", "every other friday at 5pm", "--timezone", "Europe/Berlin")
    assert shown["schedule"]["type"] == "every" and shown["schedule"]["offset"] > 0
    fires = [datetime.fromisoformat(t) for t in shown["next_runs"]]
    assert len(fires) == 3
    berlin = ZoneInfo("Europe/Berlin")
    assert all(f.astimezone(berlin).weekday() == 4 for f in fires)
    assert all(f.astimezone(berlin).hour == 17 for f in fires if f.month in (11, 12, 1, 2))
    assert [b - a for a, b in zip(fires, fires[1:], strict=False)] == [timedelta(days=14)] * 2
    assert any("does not follow DST" in w for w in shown["warnings"])

    words = ["--name", "fortnightly", "--goal", "g", "--agent", "echo"]
    words += ["--schedule", "every other friday at 5pm", "--timezone", "Europe/Berlin"]
    declined = dev.jobs("create", *words, stdin="n\n")
    assert declined.returncode == 1
    for moment in shown["next_runs"]:
        assert f"next: {moment}" in declined.stderr
    assert "note: " in declined.stderr and "does not follow DST" in declined.stderr


def test_trigger_wait_follows_the_run_and_runs_lists_it(dev: Dev) -> None:
    job = dev.json(
        "create", "--name", "btc", "--goal", "BTC at 100k", "--agent", "echo", "--every", "1h"
    )
    job_id = job["id"]
    done = dev.jobs("trigger", job_id, "--wait")
    assert done.returncode == 0, done.stderr
    assert "completed" in done.stdout and "BTC at 100k" in done.stdout
    run = dev.json("trigger", job_id, "--wait")
    assert run["status"] == "completed" and run["output"] == "BTC at 100k"
    started = dev.json("trigger", job_id)
    assert started["run_id"].startswith("run_") and started["job_id"] == job_id

    runs = dev.json("runs", job_id)
    assert runs["count"] == 3 and run["id"] in [r["id"] for r in runs["runs"]]
    table = dev.jobs("runs", job_id)
    assert table.returncode == 0 and run["id"] in table.stdout and "manual" in table.stdout


def test_a_failed_run_exits_4(dev: Dev) -> None:
    job_id = dev.json("create", "--name", "b", "--goal", "g", "--agent", "broken", "--every", "1h")[
        "id"
    ]
    failed = dev.jobs("trigger", job_id, "--wait")
    assert failed.returncode == 4
    assert "failed" in failed.stderr and "disk full" in failed.stderr

    # The failed run opened a failing incident (docs/alerts.md), listed and acknowledged here.
    listed = dev.json("incidents", "list", "--job", job_id, "--status", "open")
    assert [i["kind"] for i in listed["incidents"]] == ["failing"]
    incident = listed["incidents"][0]
    table = dev.jobs("incidents", "list", "--job", job_id)
    assert table.returncode == 0 and incident["id"] in table.stdout and "disk full" in table.stdout
    acked = dev.jobs("incidents", "ack", incident["id"])
    assert acked.returncode == 0 and "acknowledged" in acked.stdout
    assert dev.json("incidents", "list", "--job", job_id)["incidents"][0]["acked_at"]


def test_refusals_and_their_exit_codes(dev: Dev) -> None:
    missing = dev.jobs("show", "job_nope")
    assert missing.returncode == 1 and "Job job_nope not found" in missing.stderr
    as_json = dev.jobs("show", "job_nope", "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == {
        "error": "not_found",
        "message": "Job job_nope not found",
        "status": 404,
    }
    invalid = dev.jobs(
        "create", "--name", "x", "--goal", "g", "--agent", "echo", "--cron", "0 9 * *"
    )
    assert invalid.returncode == 1 and "schedule.expression" in invalid.stderr
    unknown_agent = dev.jobs(
        "create", "--name", "x", "--goal", "g", "--agent", "nobody", "--every", "60"
    )
    assert unknown_agent.returncode == 1
    assert "agent_id: unknown agent 'nobody'" in unknown_agent.stderr

    two = dev.jobs(
        "create",
        "--name",
        "x",
        "--goal",
        "g",
        "--agent",
        "echo",
        "--cron",
        "* * * * *",
        "--every",
        "60",
    )
    assert two.returncode == 2 and "exactly one of" in two.stderr
    nowhere = {"AGENT_SCHEDULER_API_KEY": "", "AGENT_SCHEDULER_DATA_DIR": str(dev.data / "none")}
    no_key = dev.jobs("list", env=nowhere)
    assert no_key.returncode == 2 and "no API key" in no_key.stderr
    bad_key = dev.jobs("list", "--key", "sk_wrong")
    assert bad_key.returncode == 1 and "Invalid or revoked API key" in bad_key.stderr

    port = free_ports(1)[0]
    unreachable = dev.jobs("list", "--api-url", f"http://127.0.0.1:{port}")
    assert unreachable.returncode == 3 and "cannot reach the API" in unreachable.stderr


def test_without_a_key_the_dev_servers_key_file_is_used_and_named_when_missing(
    dev: Dev, tmp_path: Path
) -> None:
    beside_dev = {"AGENT_SCHEDULER_API_KEY": "", "AGENT_SCHEDULER_DATA_DIR": str(dev.data)}
    listed = dev.jobs("list", env=beside_dev)
    assert listed.returncode == 0, listed.stderr
    elsewhere = {"AGENT_SCHEDULER_API_KEY": "", "AGENT_SCHEDULER_DATA_DIR": str(tmp_path)}
    missing = dev.jobs("list", env=elsewhere)
    assert missing.returncode == 2
    assert f"{tmp_path / 'dev-api-key'}, which does not exist" in missing.stderr


def test_update_changes_only_the_options_given(dev: Dev) -> None:
    words = ["--name", "u", "--goal", "g", "--agent", "echo", "--cron", "0 9 * * *"]
    job = dev.json("create", *words, "--timezone", "Europe/Paris", "--condition", "output == 'x'")
    updated = dev.json("update", job["id"], "--every", "2h", "--name", "u2", "--no-condition")
    assert (updated["name"], updated["goal"], updated["condition"]) == ("u2", "g", None)
    assert updated["schedule"]["type"] == "every"
    assert updated["schedule"]["timezone"] == "Europe/Paris"  # the job's zone kept
    assert dev.json("show", job["id"])["schedule"] == updated["schedule"]
    shown = dev.jobs("update", job["id"], "--goal", "g2")
    assert shown.returncode == 0 and "Updated" in shown.stdout and "g2" in shown.stdout
    nothing = dev.jobs("update", job["id"])
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    two = dev.jobs("update", job["id"], "--cron", "0 8 * * *", "--every", "60")
    assert two.returncode == 2 and "at most one of" in two.stderr


def test_trigger_wait_reports_the_delivery_and_exits_6_when_it_failed(
    dev: Dev, agent_server: ScriptedServer
) -> None:
    words = ["--goal", "BTC flat", "--agent", "echo", "--every", "1h"]
    held = dev.json(
        "create",
        "--name",
        "held",
        *words,
        "--delivery",
        f"webhook:{agent_server.url}/hook",
        "--condition",
        "output == 'never'",
    )
    done = dev.jobs("trigger", held["id"], "--wait")
    assert done.returncode == 0, done.stderr
    assert f"delivery to webhook:{agent_server.url}/hook: skipped (" in done.stdout

    refused = dev.json(
        "create", "--name", "refused", *words, "--delivery", f"webhook:{agent_server.url}/gone"
    )
    failed = dev.jobs("trigger", refused["id"], "--wait", "--json")
    assert failed.returncode == 6, failed.stderr
    run = json.loads(failed.stdout)
    assert run["status"] == "completed" and run["delivery"]["status"] == "failed"
    assert "delivery to webhook:" in failed.stderr and "HTTP 404" in failed.stderr

    shown = dev.jobs("run", "show", refused["id"], run["id"])
    assert shown.returncode == 0, shown.stderr
    for said in (run["id"], "completed", "manual", "attempts", "HTTP 404", "BTC flat"):
        assert said in shown.stdout
    assert dev.json("run", "show", refused["id"], run["id"])["id"] == run["id"]


def test_help_shows_no_types_for_flags_nor_braces_around_arguments() -> None:
    for command in (["jobs", "trigger"], ["jobs", "run", "show"], ["jobs", "update"]):
        shown = subprocess.run(
            [CLI, *command, "--help"],
            capture_output=True,
            text=True,
            env={**clean_env(), "COLUMNS": "200"},
            timeout=60,
        )
        assert shown.returncode == 0
        assert "<bool>" not in shown.stdout and "{" not in shown.stdout
        assert "JOB_ID" in shown.stdout
