"""Schema fuzzing: schemathesis against the app's own OpenAPI, every operation, every
check, authenticated with a real key; the app served by uvicorn on loopback with its index and the
session's Temporal dev server.

Bounded: a fixed seed, few examples per operation, no shrinking, so it fits the CI budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import col
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.core.index.db import make_engine, make_sessionmaker
from api.core.index.models import Job
from api.core.settings import Settings
from tests.helpers.served import minted_key, served

MAX_EXAMPLES = 5
SEED = 18
# One thread: on CPython 3.11, ast.parse in several threads at once can raise "SystemError: AST
# constructor recursion depth mismatch" (python/cpython#106905), and Hypothesis parses the source
# of lambdas to describe them, so with more workers schemathesis failed now and then by itself.
WORKERS = 1
PREFIX = "/api/scheduler"

# Operations whose schema-valid input can still be refused by a rule a JSON schema cannot state;
# for them alone a 422 to a schema-valid request is not a finding (every other operation must
# accept what its schema allows). What the rule is, for each:
SEMANTIC_422 = {
    f"POST {PREFIX}/jobs": "agent configured, cron parses, `at` in the future, target allowed",
    f"PUT {PREFIX}/jobs/{{job_id}}": "as POST /jobs",
    f"POST {PREFIX}/jobs/{{job_id}}/backfill": "end after start and not in the future, "
    "at most 1,000 fires, years 2000-2100",
    f"GET {PREFIX}/jobs/{{job_id}}/explain": "years 2000-2100",
    f"POST {PREFIX}/chains": "the jobs exist and are the caller's; the graph is acyclic",
    f"POST {PREFIX}/parse-nl": "the text reads as a schedule",
    f"GET {PREFIX}/calendar-data": "end after start, at most 92 days, years 2000-2100",
    f"POST {PREFIX}/smart/activity": "no event in the future; years 2000-2100",
    f"PUT {PREFIX}/settings/alerts": "the channel's provider configured, its target allowed",
    f"POST {PREFIX}/jobs/{{job_id}}/skip": "a fire of the job's schedule, in the future",
    f"DELETE {PREFIX}/jobs/{{job_id}}/skip/{{at}}": "years 2000-2100",
    f"POST {PREFIX}/keys": "a duration string (`expires_in`, `overlap`, a limit) parses",
    f"GET {PREFIX}/audit": "`since` in years 2000-2100",
}


def _config(path: Path, ids: dict[str, str]) -> Path:
    """A schemathesis config: every check on, 422 accepted as above and nowhere else, and real
    ids of the fuzzer's own resources so operations on one get past the 404."""
    lines = ["[parameters]"]
    lines += [f'"path.{name}" = "{ids[name]}"' for name in ("job_id", "chain_id", "run_id")]
    lines.append("")
    for name in SEMANTIC_422:
        lines += [
            "[[operations]]",
            f'include-name = "{name}"',
            "checks.positive_data_acceptance.expected-statuses ="
            ' ["2xx", "401", "403", "404", "409", "422"]',
            "",
        ]
    lines += [
        "[[operations]]",
        f'include-path-regex = "^{PREFIX}/chains/[^/]+/runs/"',
        f'parameters = {{ "path.run_id" = "{ids["chain_run_id"]}" }}',
        "",
    ]
    path.write_text("\n".join(lines))
    return path


async def _resources(base_url: str, key: str) -> dict[str, str]:
    """A paused job, a run of it, a chain of it and a chain run, all the fuzzer's (no worker
    polls, so both runs stay running)."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=f"{base_url}{PREFIX}", headers=headers) as http:
        schedule = {"type": "cron", "expression": "0 8 * * *"}
        job = await http.post(
            "/jobs", json={"name": "f", "goal": "g", "agent_id": "echo", "schedule": schedule}
        )
        assert job.status_code == 201, job.text
        job_id = job.json()["id"]
        run = await http.post(f"/jobs/{job_id}/trigger")
        chain = await http.post("/chains", json={"name": "c", "jobs": [job_id]})
        assert chain.status_code == 201, chain.text
        chain_id = chain.json()["id"]
        chain_run = await http.post(f"/chains/{chain_id}/trigger")
        assert run.status_code == chain_run.status_code == 202, (run.text, chain_run.text)
    return {
        "job_id": job_id,
        "run_id": run.json()["run_id"],
        "chain_id": chain_id,
        "chain_run_id": chain_run.json()["run_id"],
    }


async def _forget_schedules(settings: Settings, client: Client, owner: str) -> int:
    """Delete the Temporal schedules of ``owner``'s jobs, so what the fuzzer made (some firing
    every second) does not load the session's dev server for the tests after it."""
    engine = make_engine(settings.resolved_database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            job_ids = (
                await session.execute(sa.select(col(Job.id)).where(col(Job.owner) == owner))
            ).scalars()
            ids = list(job_ids)
    finally:
        await engine.dispose()

    async def forget(job_id: str) -> None:
        with contextlib.suppress(RPCError):
            await client.get_schedule_handle(job_id).delete()

    await asyncio.gather(*(forget(job_id) for job_id in ids))
    return len(ids)


@pytest.fixture
def fuzz_settings(
    temporal_env: WorkflowEnvironment, tmp_path: Path, postgres_url: str | None
) -> Settings:
    """One index for the run: PostgreSQL when configured (it refuses more, e.g. NUL in text),
    else SQLite; a fuzz run per backend would double the time for little."""
    return Settings(
        data_dir=tmp_path,
        database_url=postgres_url or f"sqlite:///{tmp_path / 'index.db'}",
        temporal_address=temporal_env.client.service_client.config.target_host,
        task_queue=f"fuzz-{uuid.uuid4().hex}",
        # Also keeps the API from resolving fuzzed webhook hosts: no DNS query leaves loopback.
        allow_private_targets=True,
        tick_interval_seconds=0,
        # On a loaded machine generating the next case can take longer than an idle
        # connection is kept; a connection the server closes just as the fuzzer reuses it is
        # reset under the request (a race of any keep-alive client and server, seen in the
        # coverage phase), so idle connections are kept longer than any pause here.
        keep_alive_seconds=300,
        header_timeout_seconds=300,
    )


async def test_schemathesis_finds_nothing(
    fuzz_settings: Settings, tmp_path: Path, temporal_client: Client
) -> None:
    settings = fuzz_settings
    with served(settings) as base_url:
        # Admin: every operation, the owner's keys too (docs/api.md, "Keys and scopes").
        key = await minted_key(settings, "fuzzer", scope="admin")
        log = tmp_path / "schemathesis.log"
        config = _config(tmp_path / "schemathesis.toml", await _resources(base_url, key))
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "run",
            f"{base_url}/openapi.json",
            "--checks",
            "all",
            "--header",
            f"Authorization: Bearer {key}",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--no-shrink",
            "--workers",
            str(WORKERS),
            # Past the API's own 30 s request deadline, which answers 503 first: a request
            # timing out here on a loaded machine would be the client's error, not the API's.
            "--request-timeout",
            "40",
            "--suppress-health-check",
            "all",
            cwd=tmp_path,
            stdout=log.open("wb"),
            stderr=asyncio.subprocess.STDOUT,
        )
        await process.wait()
        elapsed = time.monotonic() - started
        forgotten = await _forget_schedules(settings, temporal_client, "fuzzer")
    text = log.read_text(errors="replace")
    summary = f"schemathesis: exit {process.returncode} in {elapsed:.1f}s, {forgotten} jobs made"
    print(f"{summary}\n{text[-3000:]}")  # noqa: T201
    assert process.returncode == 0, text
