"""Retry delays measured in workflow time on the time-skipping server (docs/api.md, "Job
fields")."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlmodel import select
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.core.index.db import make_engine, make_sessionmaker
from api.core.index.models import Job, Run
from api.core.settings import Settings
from api.core.temporal import packaged_binary
from domain.contract.runs import JobRunInput
from tests.helpers.servers import Reply, ScriptedServer
from worker import running_worker
from workflows.job_run import JobRunWorkflow

pytestmark = pytest.mark.server  # starts Temporal's time-skipping server (tests/README.md)


@pytest.fixture(scope="module")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=packaged_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.mark.parametrize(
    ("retry", "expected_delays"),
    [
        ({"max_attempts": 4, "strategy": "exponential", "base_delay": 60}, [60, 120, 240]),
        ({"max_attempts": 4, "strategy": "linear", "base_delay": 30}, [30, 60, 90]),
        ({"max_attempts": 3, "strategy": "fixed", "base_delay": 45}, [45, 45]),
        (
            {"max_attempts": 5, "strategy": "exponential", "base_delay": 60, "max_delay": 100},
            [60, 100, 100, 100],
        ),
    ],
)
async def test_delays_between_attempts_follow_the_strategy(
    skipping_env: WorkflowEnvironment,
    agent_server: ScriptedServer,
    tmp_path: Path,
    retry: dict[str, object],
    expected_delays: list[int],
) -> None:
    agent_server.script("/web", Reply(503, {"error": "busy"}))
    agents = tmp_path / "agents.toml"
    agents.write_text(f'[agents.web]\nkind = "http"\nurl = "{agent_server.url}/web"\n')
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'index.db'}",
        task_queue=f"test-{uuid.uuid4().hex}",
        agents_file=agents,
    )
    client = skipping_env.client
    async with running_worker(client, settings):
        engine = make_engine(settings.resolved_database_url)
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            session.add(
                Job(
                    id="job_retry",
                    owner="alice",
                    name="n",
                    goal="g",
                    agent_id="web",
                    schedule={"type": "every", "interval": 3600},
                    timezone="UTC",
                    status="active",
                    retry=retry,
                    timeout_seconds=30,
                    overlap="skip",
                    max_consecutive_failures=0,
                )
            )
            await session.commit()
        result = await client.execute_workflow(
            JobRunWorkflow.run,
            JobRunInput(job_id="job_retry", owner="alice", trigger="manual"),
            id=f"run_{uuid.uuid4().hex}",
            task_queue=settings.task_queue,
        )
        assert result.status == "failed"
        async with sessions() as session:
            (run,) = (await session.execute(select(Run))).scalars()
        await engine.dispose()

    assert run.attempts == len(expected_delays) + 1
    failures = [datetime.fromisoformat(e["at"]) for e in run.attempt_errors or []]
    gaps = [(b - a).total_seconds() for a, b in zip(failures, failures[1:], strict=False)]
    assert gaps == pytest.approx(expected_delays, abs=1.5)
    assert len(agent_server.calls("/web")) == len(expected_delays) + 1
