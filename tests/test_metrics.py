"""Prometheus metrics (docs/operations.md, "Metrics"): each page read over HTTP and parsed with
prometheus_client's own parser after known work."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from temporalio.worker import Worker

from api.core.settings import Settings
from tests.helpers.api import JOBS, Api, create, eventually, trigger, wait_run
from tests.helpers.api_process import api_process
from tests.helpers.processes import free_ports
from tests.helpers.servers import Reply, ScriptedServer

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of the page at ``url``: (name, labels) → value."""
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly ``labels``, 0 when absent."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def settings(settings: Settings, agent_server: ScriptedServer, tmp_path: Path) -> Settings:
    """Both pages on free ports; the agent ``metered`` is this module's own, so the counters
    of other tests in the same process never mix in."""
    path = tmp_path / "agents.toml"
    path.write_text(f'[agents.metered]\nkind = "http"\nurl = "{agent_server.url}/agent"\n')
    api_port, worker_port = free_ports(2)
    return settings.model_copy(
        update={"agents_file": path, "metrics_port": api_port, "worker_metrics_port": worker_port}
    )


def pages(settings: Settings) -> tuple[str, str]:
    return (
        f"http://127.0.0.1:{settings.metrics_port}/metrics",
        f"http://127.0.0.1:{settings.worker_metrics_port}/metrics",
    )


async def test_runs_agent_calls_and_lag_are_counted_once_each(
    api: Api, worker: Worker, settings: Settings, agent_server: ScriptedServer
) -> None:
    _, worker_page = pages(settings)
    before = scrape(worker_page)
    alice = await api.headers("alice")
    agent_server.script("/agent", Reply(200, {"output": "fine", "usage": {"input_tokens": 10}}))
    good = await create(api, alice, agent_id="metered")
    for _ in range(3):
        run_id = await trigger(api, alice, good["id"])
        assert (await wait_run(api, alice, good["id"], run_id))["status"] == "completed"
    # One failed run: a 503, retried once, then a 400 that ends it.
    agent_server.script("/agent", Reply(503, {"error": "busy"}), Reply(400, {"error": "no"}))
    bad = await create(
        api,
        alice,
        agent_id="metered",
        retry={"max_attempts": 3, "strategy": "fixed", "base_delay": 1},
    )
    run_id = await trigger(api, alice, bad["id"])
    assert (await wait_run(api, alice, bad["id"], run_id))["status"] == "failed"
    after = scrape(worker_page)

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert (
        added("agent_scheduler_runs_total", status="completed", trigger="manual", agent="metered")
        == 3
    )
    assert (
        added("agent_scheduler_runs_total", status="failed", trigger="manual", agent="metered") == 1
    )
    assert (
        added("agent_scheduler_run_duration_seconds_count", status="completed", agent="metered")
        == 3
    )
    # Each attempt of the failed run is a call: the 503 and the 400.
    assert added("agent_scheduler_agent_calls_total", agent="metered", outcome="ok") == 3
    assert added("agent_scheduler_agent_calls_total", agent="metered", outcome="http_status") == 2
    assert added("agent_scheduler_agent_call_seconds_count", agent="metered") == 5
    assert added("agent_scheduler_tokens_total", agent="metered", kind="input") == 30
    # The failed run opened the job's `failing` incident (read from the index at the scrape).
    assert value(after, "agent_scheduler_incidents_open", kind="failing") == 1
    assert value(after, "agent_scheduler_incidents_open", kind="missed") == 0
    # No owner's data in any label: the goal, the job's name and its id appear nowhere.
    labels = {v for _, pairs in after for _, v in pairs}
    assert not {good["id"], good["name"], good["goal"], bad["id"]} & labels

    # A scheduled run lands in the lag histogram.
    lag_before = value(after, "agent_scheduler_schedule_lag_seconds_count")
    scheduled = await create(
        api, alice, agent_id="metered", schedule={"type": "every", "interval": 1}
    )
    agent_server.script("/agent", Reply(200, {"output": "tick"}))

    async def lagged() -> bool:
        now = scrape(worker_page)
        return value(now, "agent_scheduler_schedule_lag_seconds_count") > lag_before

    await eventually(lagged, "a scheduled run in the lag histogram")
    assert (await api.http.delete(f"{JOBS}/{scheduled['id']}", headers=alice)).status_code == 204
    after = scrape(worker_page)
    # Every observation is in some bucket and the lag of a run on time is under a minute.
    assert value(after, "agent_scheduler_schedule_lag_seconds_bucket", le="60.0") == value(
        after, "agent_scheduler_schedule_lag_seconds_count"
    )


async def test_the_api_counts_requests_by_route_template_and_serves_job_gauges(
    api: Api, settings: Settings
) -> None:
    api_page, _ = pages(settings)
    before = scrape(api_page)
    alice = await api.headers("alice")
    job = await create(api, alice)
    for _ in range(2):
        assert (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).status_code == 200
    assert (await api.http.get(f"{JOBS}/job_nothere", headers=alice)).status_code == 404
    too_big = b"x" * (settings.max_body_bytes + 1)
    trigger_url = f"{JOBS}/{job['id']}/trigger"
    assert (await api.http.post(trigger_url, headers=alice, content=too_big)).status_code == 413
    assert (await api.http.get("/no/such/page")).status_code == 404
    after = scrape(api_page)

    def requests(method: str, route: str, status: str) -> float:
        labels = {"method": method, "route": route, "status": status}
        name = "agent_scheduler_http_requests_total"
        return value(after, name, **labels) - value(before, name, **labels)

    route = "/api/scheduler/jobs/{job_id}"
    assert requests("GET", route, "200") == 2
    assert requests("GET", route, "404") == 1
    assert requests("POST", "/api/scheduler/jobs", "201") == 1
    # Answered by the body guard before routing, yet under its route.
    assert requests("POST", route + "/trigger", "413") == 1
    assert requests("GET", "<unmatched>", "404") == 1
    timed = ("agent_scheduler_http_request_duration_seconds_count",)
    labels = {"method": "GET", "route": route}
    assert value(after, *timed, **labels) - value(before, *timed, **labels) == 3
    routes = {v for _, pairs in after for k, v in pairs if k == "route"}
    assert all(job["id"] not in r and "nothere" not in r for r in routes), routes
    assert value(after, "agent_scheduler_jobs", status="active") == 1
    assert value(after, "agent_scheduler_jobs", status="paused") == 0
    # The worker's metrics are not on the API's page (dev serves both from one process).
    assert not any(name.startswith("agent_scheduler_runs") for name, _ in after)


@pytest.mark.server  # starts `agent-scheduler api --workers 2`
def test_api_processes_are_summed_on_one_page(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    with api_process(tmp_path, "--workers", "2", metrics_port=port) as api:
        page = f"http://127.0.0.1:{port}/metrics"
        before = scrape(page)
        # A connection each, so both processes take some.
        for _ in range(40):
            assert (
                httpx.get(f"{api.url}/healthz", headers={"Connection": "close"}).status_code == 200
            )
        after = scrape(page)
        # Each process's own count of the health checks, from the file it writes.
        counted = {
            path.stem: sum(
                count
                for key, count, *_ in MmapedDict.read_all_values_from_file(str(path))
                if '"/healthz"' in key and "http_requests_total" in key
            )
            for path in metrics_files(api.process.pid)
        }
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    name = "agent_scheduler_http_requests_total"
    assert value(after, name, **labels) - value(before, name, **labels) == 40
    assert value(after, "agent_scheduler_jobs", status="active") == 0
    # Both processes answered some: the page summed them.
    assert len(counted) == 2 and all(counted.values()), counted


def metrics_files(parent: int) -> list[Path]:
    """The counter files the API processes below ``parent`` write (their environment names
    the directory)."""
    for child in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        for entry in environ:
            if entry.startswith(b"PROMETHEUS_MULTIPROC_DIR="):
                return list(Path(entry.split(b"=", 1)[1].decode()).glob("counter_*.db"))
    raise AssertionError("no API process has PROMETHEUS_MULTIPROC_DIR")


async def test_deliveries_are_counted_by_provider_and_outcome(
    api: Api, worker: Worker, settings: Settings, agent_server: ScriptedServer
) -> None:
    _, worker_page = pages(settings)
    before = scrape(worker_page)
    alice = await api.headers("alice")
    agent_server.script("/agent", Reply(200, {"output": "news"}))
    # The receiver takes the first delivery and refuses the second for good (a 400).
    agent_server.script("/hook", Reply(200, {}), Reply(400, {"error": "no"}))
    for _ in range(2):
        job = await create(
            api,
            alice,
            agent_id="metered",
            delivery={"channel": f"webhook:{agent_server.url}/hook", "format": "json"},
        )
        run_id = await trigger(api, alice, job["id"])
        await wait_run(api, alice, job["id"], run_id)
    after = scrape(worker_page)

    def added(status: str) -> float:
        labels = {"provider": "webhook", "status": status}
        name = "agent_scheduler_deliveries_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert (added("sent"), added("failed"), added("retrying")) == (1, 1, 0)
