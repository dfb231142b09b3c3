"""The Temporal worker: ``python worker.py`` (= ``agent-scheduler worker``)."""

from __future__ import annotations

import asyncio
import compileall
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

import workflows
from activities.agents import AgentActivities
from activities.chains import ChainRecorder
from activities.conditions import ConditionEvaluator
from activities.delivery import DeliveryActivities
from activities.incidents import IncidentNotifier
from activities.runs import RunRecorder
from activities.tick import TickActivities
from api.core import logs, metrics
from api.core.index.db import make_engine, migrate
from api.core.schedules import ensure_tick_schedule_logged
from api.core.settings import Settings, get_settings
from api.core.temporal import build_temporal_client
from domain.agents import parse_agents
from workflows.chain import ChainWorkflow
from workflows.job_run import JobRunWorkflow
from workflows.redeliver import RedeliverWorkflow
from workflows.tick import TickWorkflow

log = logging.getLogger("agent_scheduler.worker")

WORKFLOWS = [JobRunWorkflow, ChainWorkflow, RedeliverWorkflow, TickWorkflow]


def precompile_workflows() -> None:
    """Write the workflow modules' bytecode, best effort.

    The sandbox imports a workflow's module afresh for every run; with bytecode on disk that is
    a load rather than a compile, even where ``PYTHONDONTWRITEBYTECODE`` is set.
    """
    compileall.compile_dir(Path(workflows.__file__).parent, quiet=2)


@asynccontextmanager
async def running_worker(client: Client, settings: Settings) -> AsyncIterator[Worker]:
    """A started worker with every workflow and activity; drained and closed on exit."""
    url = settings.resolved_database_url
    await asyncio.to_thread(migrate, url)
    await asyncio.to_thread(precompile_workflows)
    engine = make_engine(url, sqlite_one_hop=settings.sqlite_one_hop)
    agents_text = settings.agents_file.read_text() if settings.agents_file else None
    agent_activities = AgentActivities(parse_agents(agents_text), settings)
    notifier = IncidentNotifier(engine, settings)
    recorder = RunRecorder(engine, client, notifier=notifier)
    chain_recorder = ChainRecorder(engine)
    conditions = ConditionEvaluator(engine)
    delivery = DeliveryActivities(engine, settings)
    tick = TickActivities(engine, client, settings, recorder=recorder, notifier=notifier)
    worker = Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[
            agent_activities.call_agent,
            recorder.record_start,
            recorder.check_budget,
            recorder.record_finish,
            *chain_recorder.activities(),
            conditions.evaluate_condition,
            delivery.deliver,
            delivery.plan_redelivery,
            delivery.record_delivery,
            tick.reconcile,
        ],
        # Cancellation reaches an activity with a heartbeat response: ask often.
        max_heartbeat_throttle_interval=timedelta(seconds=1),
    )
    metrics.OPTIONS.job_labels = settings.metrics_job_labels
    page = None
    if settings.worker_metrics_port is not None:
        page = metrics.serve(
            metrics.WORKER,
            settings.metrics_host,
            settings.worker_metrics_port,
            extra=metrics.worker_collectors(url),
        )
        log.info("worker metrics on %s", page.url)
    try:
        async with worker:
            await ensure_tick_schedule_logged(client, settings)
            yield worker
    finally:
        if page is not None:
            page.close()
        await agent_activities.aclose()
        await delivery.aclose()
        await engine.dispose()


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run the worker until ``stop`` is set (or the task is cancelled), then drain it."""
    if settings.worker_metrics_port is not None:
        metrics.temporal_runtime_metrics()  # before the client: it keeps its runtime
    client = await build_temporal_client(settings)
    log.info("worker polling task queue %s on %s", settings.task_queue, settings.temporal_address)
    async with running_worker(client, settings):
        await (stop or asyncio.Event()).wait()


if __name__ == "__main__":
    logs.configure(get_settings().log_format)
    asyncio.run(run_worker(get_settings()))
