"""For operators (docs/operations.md, "Metrics" and "Alert rules"): the alert rules pass
``promtool``, and a real Prometheus scraping ``agent-scheduler dev`` reads a run back."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api.core import metrics
from tests.helpers.dev import running_dev, until
from tests.helpers.processes import free_ports

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"


def tool(name: str) -> str:
    """Debian's ``prometheus`` package's binary; skipped without it, failed under CI."""
    found = shutil.which(name)
    if found is None:
        message = f"{name} not installed (apt-get install prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_the_alert_rules_pass_promtool_check_and_their_tests() -> None:
    promtool = tool("promtool")
    checked = subprocess.run(
        [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"],
        cwd=RULES.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
    # Every alert has a test that makes it fire.
    alerts = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    cases = yaml.safe_load((RULES.parent / "alerts_test.yml").read_text())["tests"]
    fired = {
        check["alertname"]
        for case in cases
        for check in case["alert_rule_test"]
        if check.get("exp_alerts")
    }
    assert alerts == fired


def test_the_scrape_config_is_valid_prometheus_config() -> None:
    checked = subprocess.run(
        [tool("promtool"), "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana" / "agent-scheduler.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def our_names() -> set[str]:
    """Every sample name the API and worker pages can have (docs/operations.md, "Metrics")."""
    names = {"agent_scheduler_jobs", "agent_scheduler_incidents_open"}
    for registry in (metrics.API, metrics.WORKER):
        for family in registry.collect():
            kind = family.type
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
            names |= {family.name + suffix for suffix in suffixes.get(kind, [""])}
    return names


def test_the_dashboard_and_the_rules_use_only_metrics_that_exist() -> None:
    rules = RULES.read_text()
    used = set(re.findall(r"agent_scheduler_\w+", rules + " ".join(dashboard_expressions())))
    assert used and used <= our_names(), used - our_names()
    documented = (DEPLOY.parent / "docs" / "operations.md").read_text()
    family_names = {re.sub(r"_(bucket|count|sum)$", "", name) for name in our_names()}
    assert not {name for name in family_names if f"`{name}" not in documented}


@contextmanager
def prometheus(targets: dict[str, str], data: Path) -> Iterator[str]:
    """A real Prometheus scraping ``targets`` (job name → host:port) every second."""
    (port,) = free_ports(1)
    config = data / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {"job_name": job, "static_configs": [{"targets": [target]}]}
                    for job, target in targets.items()
                ],
            }
        )
    )
    log = data / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={data / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def series_names(url: str) -> list[dict[str, str]]:
    answer = httpx.get(f"{url}/api/v1/series", params={"match[]": '{__name__=~"temporal_.+"}'})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, str]] = answer.json()["data"]
    return found


def query(url: str, expression: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expression}, timeout=10)
    assert answer.status_code == 200, answer.text
    result: list[dict[str, Any]] = answer.json()["data"]["result"]
    return result


@pytest.mark.server  # runs `agent-scheduler dev` and Prometheus
def test_prometheus_scrapes_dev_and_reads_a_run_back(tmp_path: Path) -> None:
    tool("prometheus")
    api_port, worker_port = free_ports(2)
    env = {
        "AGENT_SCHEDULER_METRICS_PORT": str(api_port),
        "AGENT_SCHEDULER_WORKER_METRICS_PORT": str(worker_port),
    }
    with running_dev(tmp_path / "data", tmp_path / "logs", env=env) as dev:
        banner = dev.stdout.read_text()
        assert f"http://127.0.0.1:{api_port}/metrics" in banner
        assert f"http://127.0.0.1:{worker_port}/metrics" in banner
        run = dev.trigger_to_the_end(dev.create_job()["id"])
        assert run["status"] == "completed"
        targets = {"api": f"127.0.0.1:{api_port}", "worker": f"127.0.0.1:{worker_port}"}
        with prometheus(targets, tmp_path) as url:
            runs = until(
                "agent_scheduler_runs_total in Prometheus",
                lambda: query(url, 'agent_scheduler_runs_total{status="completed"}'),
            )
            assert runs[0]["metric"] | {"job": "worker"} == {
                "__name__": "agent_scheduler_runs_total",
                "status": "completed",
                "trigger": "manual",
                "agent": "echo",
                "instance": targets["worker"],
                "job": "worker",
            }
            assert float(runs[0]["value"][1]) == 1
            up = until("both targets up", lambda: len(query(url, "up == 1")) == 2 or None)
            assert up
            # The API's requests and the Temporal SDK's own metrics are there too.
            assert query(url, 'agent_scheduler_http_requests_total{route="/api/scheduler/jobs"}')
            pollers = query(url, 'temporal_num_pollers{poller_type="workflow_task"}')
            assert pollers and float(pollers[0]["value"][1]) > 0
            # Every panel of the dashboard is a query Prometheus runs; the Temporal metrics it
            # shows are on the worker's page.
            for expression in dashboard_expressions():
                query(url, expression)
            names = {series["__name__"] for series in series_names(url)}
            for name in re.findall(r"temporal_\w+", " ".join(dashboard_expressions())):
                assert name in names, name
