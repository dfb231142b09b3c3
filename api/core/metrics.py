"""Prometheus metrics (docs/operations.md, "Metrics"): what the worker and the API count, and
the port each serves them on.

Two registries, because ``dev`` runs the API and the worker in one process and each has a port
of its own: a metric is on exactly one page, so Prometheus never sums it twice. No label holds
an owner's data (job names, goals, outputs); ``agent`` is an operator-configured agent id and
the rest are small fixed sets. Per-job series (``agent_scheduler_job_runs_total``) are written
only with ``AGENT_SCHEDULER_METRICS_JOB_LABELS=true``.

``api --workers N`` counts in prometheus_client's multiprocess mode: each API process writes
its values to files under ``PROMETHEUS_MULTIPROC_DIR`` and the parent process serves their sum
(:func:`serve_api_processes`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

WORKER = CollectorRegistry()
API = CollectorRegistry()
# Set in each process of `api --workers N` by the parent (prometheus_client reads it at import).
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# Seconds: agent calls and runs take from milliseconds to the job's timeout (hours at most).
_LONG = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 7200)
# Seconds a scheduled run started after its time: well under a second when all is well.
_LAG = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
# Seconds of an API request: its deadline is 30 s.
_REQUEST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

RUNS = Counter(
    "agent_scheduler_runs",
    "Runs that ended, by status, what started them and the job's agent.",
    ["status", "trigger", "agent"],
    registry=WORKER,
)
RUN_SECONDS = Histogram(
    "agent_scheduler_run_duration_seconds",
    "Seconds from a run's start to its end.",
    ["status", "agent"],
    buckets=_LONG,
    registry=WORKER,
)
SCHEDULE_LAG = Histogram(
    "agent_scheduler_schedule_lag_seconds",
    "Seconds from a scheduled run's nominal time to its start.",
    buckets=_LAG,
    registry=WORKER,
)
AGENT_CALLS = Counter(
    "agent_scheduler_agent_calls",
    "Calls to agents (each dispatch of each attempt), by outcome: ok or the failure's kind.",
    ["agent", "outcome"],
    registry=WORKER,
)
AGENT_CALL_SECONDS = Histogram(
    "agent_scheduler_agent_call_seconds",
    "Seconds one agent call took, whatever its outcome.",
    ["agent"],
    buckets=_LONG,
    registry=WORKER,
)
DELIVERIES = Counter(
    "agent_scheduler_deliveries",
    "Result deliveries, by provider (slack, email, webhook, outbox) and status.",
    ["provider", "status"],
    registry=WORKER,
)
TOKENS = Counter(
    "agent_scheduler_tokens",
    "Tokens agents reported using, by kind (input, output).",
    ["agent", "kind"],
    registry=WORKER,
)
COST = Counter(
    "agent_scheduler_cost_usd",
    "US dollars agents reported spending.",
    ["agent"],
    registry=WORKER,
)
TICK_REPAIRS = Counter(
    "agent_scheduler_tick_repairs",
    "Drift the tick repaired between the index and Temporal, by kind.",
    ["kind"],
    registry=WORKER,
)
PRUNED_ROWS = Counter(
    "agent_scheduler_pruned_rows",
    "Index rows the tick deleted as older than the retention period, by table.",
    ["table"],
    registry=WORKER,
)
MISSED_FIRES = Counter(
    "agent_scheduler_missed_fires",
    "Scheduled fires that did not start within their grace period.",
    registry=WORKER,
)
JOB_RUNS = Counter(
    "agent_scheduler_job_runs",
    "Runs that ended, per job (only with AGENT_SCHEDULER_METRICS_JOB_LABELS=true).",
    ["job_id", "status"],
    registry=WORKER,
)
HTTP_REQUESTS = Counter(
    "agent_scheduler_http_requests",
    "API requests answered, by method, route template and status code.",
    ["method", "route", "status"],
    registry=API,
)
HTTP_SECONDS = Histogram(
    "agent_scheduler_http_request_duration_seconds",
    "Seconds from a request's arrival to the end of its answer.",
    ["method", "route"],
    buckets=_REQUEST,
    registry=API,
)


@dataclass
class _Options:
    job_labels: bool = False


OPTIONS = _Options()


def run_ended(
    *,
    job_id: str,
    status: str,
    trigger: str,
    agent: str,
    seconds: float | None,
    usage: dict[str, Any] | None,
) -> None:
    """Count one run's end (called once per run, when its end is first recorded)."""
    RUNS.labels(status, trigger, agent).inc()
    if seconds is not None:
        RUN_SECONDS.labels(status, agent).observe(max(seconds, 0.0))
    if OPTIONS.job_labels:
        JOB_RUNS.labels(job_id, status).inc()
    for kind in ("input", "output"):
        if tokens := (usage or {}).get(f"{kind}_tokens"):
            TOKENS.labels(agent, kind).inc(tokens)
    if cost := (usage or {}).get("cost_usd"):
        COST.labels(agent).inc(cost)


class IndexGauges(Collector):
    """Gauges read from the index when Prometheus scrapes, so every replica reports the same
    truth and nothing drifts: ``agent_scheduler_jobs{status}`` and, where incidents are kept,
    ``agent_scheduler_incidents_open{kind}``. One grouped count each a scrape."""

    JOB_STATUSES = ("active", "paused", "completed", "failed")

    def __init__(self, url: str, *, jobs: bool, incidents: bool) -> None:
        self._url = url
        self._jobs = jobs
        self._incidents = incidents
        self._engine: sa.Engine | None = None
        self._lock = threading.Lock()

    def collect(self) -> Iterable[Metric]:
        """The gauges as the index has them now (none while it cannot be read)."""
        with self._lock:
            try:
                return self._read()
            except sa.exc.SQLAlchemyError as exc:
                log.warning("metrics: the index could not be read: %s", exc)
                return []

    def _read(self) -> list[Metric]:
        if self._engine is None:
            self._engine = sa.create_engine(self._url, pool_size=1, max_overflow=0)
        found: list[Metric] = []
        with self._engine.connect() as conn:
            if self._jobs:
                counts: dict[str, int] = dict(
                    conn.execute(
                        sa.text(
                            "SELECT status, count(*) FROM jobs WHERE deleted_at IS NULL "
                            "GROUP BY status"
                        )
                    ).all()
                )
                jobs = GaugeMetricFamily(
                    "agent_scheduler_jobs", "Live jobs in the index, by status.", labels=["status"]
                )
                for status in sorted({*self.JOB_STATUSES, *counts}):
                    jobs.add_metric([status], counts.get(status, 0))
                found.append(jobs)
            if self._incidents and sa.inspect(conn).has_table("incidents"):
                open_: dict[str, int] = dict(
                    conn.execute(
                        sa.text(
                            "SELECT kind, count(*) FROM incidents WHERE status = 'open' "
                            "GROUP BY kind"
                        )
                    ).all()
                )
                incidents = GaugeMetricFamily(
                    "agent_scheduler_incidents_open",
                    "Open incidents, by kind.",
                    labels=["kind"],
                )
                for kind in sorted({"failing", "missed", "late", "paused", *open_}):
                    incidents.add_metric([kind], open_.get(kind, 0))
                found.append(incidents)
        return found

    def close(self) -> None:
        """Close the index connection."""
        if self._engine is not None:
            self._engine.dispose()


class TemporalRuntimeMetrics(Collector):
    """The Temporal SDK's own ``temporal_*`` metrics, read from the Runtime's Prometheus
    endpoint on a private loopback port and served on the worker's page with ours."""

    def __init__(self, address: str) -> None:
        self._url = f"http://{address}/metrics"

    def collect(self) -> Iterator[Metric]:
        """What the Runtime's endpoint serves now (nothing while it does not answer)."""
        try:
            with urllib.request.urlopen(self._url, timeout=2) as answer:
                text = answer.read().decode()
        except OSError:
            return
        yield from text_string_to_metric_families(text)


@dataclass
class MetricsServer:
    """One metrics port: its address and how to stop it."""

    url: str
    _server: WSGIServer
    _thread: threading.Thread
    _on_close: list[Callable[[], None]]

    def close(self) -> None:
        """Stop serving and release what the page reads from."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        for close in self._on_close:
            close()


def serve(
    registry: CollectorRegistry,
    host: str,
    port: int,
    *,
    extra: Iterable[Collector] = (),
) -> MetricsServer:
    """Serve ``registry`` (and ``extra`` collectors, registered on it) at
    ``http://host:port/metrics``; port 0 takes a free one."""
    extras = list(extra)
    for collector in extras:
        registry.register(collector)
    server, thread = start_http_server(port, addr=host, registry=registry)
    bound = server.server_address[1]

    def unregister() -> None:
        for collector in extras:
            registry.unregister(collector)
            if isinstance(collector, IndexGauges):
                collector.close()

    return MetricsServer(f"http://{_display(host)}:{bound}/metrics", server, thread, [unregister])


def serve_api_processes(directory: str, host: str, port: int, url: str) -> MetricsServer:
    """Serve the sum of every API process's metrics written under ``directory`` (the parent
    of ``api --workers N``), with the index's gauges."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)
    return serve(registry, host, port, extra=[IndexGauges(url, jobs=True, incidents=False)])


_runtime_address: str | None = None


def temporal_runtime_metrics() -> str:
    """Make this process's default Temporal Runtime serve its ``temporal_*`` metrics on a
    private loopback port (once, before any client connects: a client keeps the runtime it
    was made with); its address."""
    global _runtime_address
    if _runtime_address is None:
        from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

        address = f"127.0.0.1:{free_loopback_port()}"
        telemetry = TelemetryConfig(metrics=PrometheusConfig(bind_address=address))
        Runtime.set_default(Runtime(telemetry=telemetry), error_if_already_set=False)
        _runtime_address = address
    return _runtime_address


def worker_collectors(url: str) -> list[Collector]:
    """What the worker's page serves beside its registry: open incidents from the index, and
    the Temporal Runtime's metrics where this process's runtime exposes them."""
    found: list[Collector] = [IndexGauges(url, jobs=False, incidents=True)]
    if _runtime_address is not None:
        found.append(TemporalRuntimeMetrics(_runtime_address))
    return found


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a private endpoint such as the Runtime's)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def in_multiprocess_mode() -> bool:
    """Whether this process is one of ``api --workers N`` (its parent serves the page)."""
    return bool(os.environ.get(MULTIPROCESS_DIR_VARIABLE))


def _display(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
