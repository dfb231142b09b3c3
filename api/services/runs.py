"""Runs of a job: history from the index, cancellation through Temporal."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.core.errors import Conflict, NotFound
from api.core.index import runs as store
from api.core.index.models import Job, Run
from api.core.settings import Settings
from api.core.temporal import TemporalConnection, missing_ok
from api.schemas.runs import RunPublic, RunsPublic, TemporalRef, UsagePublic
from api.services.jobs import JobService
from domain.budgets import Usage
from domain.contract.delivery import DeliveryRecord, RedeliverInput, redeliver_workflow_id
from domain.contract.names import REDELIVER_WORKFLOW


def run_ui_url(settings: Settings, workflow_id: str) -> str:
    """The Temporal Web UI page of a run."""
    base = settings.temporal_ui_url.rstrip("/")
    return f"{base}/namespaces/{settings.temporal_namespace}/workflows/{workflow_id}"


@dataclass
class RunService:
    """Run operations for one owner (through the owner's jobs)."""

    jobs: JobService
    session: AsyncSession
    temporal: TemporalConnection
    settings: Settings

    async def list(self, job_id: str, *, status: str | None, limit: int, offset: int) -> RunsPublic:
        """A page of the job's runs, newest first."""
        job = await self.jobs.owned(job_id)
        runs, count = await store.list_runs(
            self.session, job_id=job.id, status=status, limit=limit, offset=offset
        )
        return RunsPublic(runs=[self.public(run) for run in runs], count=count)

    async def get(self, job_id: str, run_id: str) -> Run:
        """One run of the owner's job, or 404."""
        return await self._run_of(await self.jobs.owned(job_id), run_id)

    async def _run_of(self, job: Job, run_id: str) -> Run:
        run = await store.get_run(self.session, job_id=job.id, run_id=run_id)
        if run is None:
            raise NotFound(f"Run {run_id} not found")
        return run

    async def cancel(self, job_id: str, run_id: str) -> None:
        """Ask Temporal to cancel a running run; the workflow records it ``cancelled``."""
        run = await self.get(job_id, run_id)
        if run.status != "running":
            raise Conflict(f"Run {run_id} already finished ({run.status})")
        await cancel_workflow(self.temporal, run.id)
        # The change is Temporal's: recorded once Temporal took it.
        await self.jobs.record("run.cancel", run.job_id, target_id=run.id)
        await self.session.commit()

    async def redeliver(self, job_id: str, run_id: str) -> None:
        """Deliver a finished run again through a workflow of its own; the agent is not called.

        The job's current channel is used, so a wrong channel can be fixed first. Only a run
        whose delivery was attempted (``failed`` or ``delivered``) can be redelivered.
        """
        job = await self.jobs.owned(job_id)
        run = await self._run_of(job, run_id)
        if run.status == "running":
            raise Conflict(f"Run {run_id} is still running; its delivery has not finished")
        if not job.delivery:
            raise Conflict(f"Job {job.id} has no delivery channel")
        attempted = (run.delivery or {}).get("status")
        if attempted not in ("failed", "delivered"):
            reason = (run.delivery or {}).get("reason") or f"the run is {run.status}"
            raise Conflict(f"Run {run_id} was not delivered ({reason}); nothing to redeliver")
        client = await self.temporal.client()
        try:
            await client.start_workflow(
                REDELIVER_WORKFLOW,
                RedeliverInput(run_id=run.id, job_id=job.id, owner=job.owner),
                id=redeliver_workflow_id(run.id),
                task_queue=self.settings.task_queue,
                result_type=DeliveryRecord,
                static_summary=f"redeliver {run.id}"[:200],
            )
        except WorkflowAlreadyStartedError:
            raise Conflict(f"A redelivery of run {run_id} is already in progress") from None
        await self.jobs.record("run.redeliver", job.id, target_id=run.id)
        await self.session.commit()

    def public(self, run: Run) -> RunPublic:
        """The API view of a run."""
        data = run.model_dump(
            exclude={"owner", "temporal_run_id", "input_tokens", "output_tokens", "cost_usd"}
        )
        data["usage"] = usage_public(run)
        data["attempt_errors"] = run.attempt_errors or []
        data["attempt_dispatches"] = run.attempt_dispatches or []
        data["answer_notes"] = run.answer_notes or []
        data["temporal"] = TemporalRef(workflow_id=run.id, run_id=run.temporal_run_id)
        data["temporal_ui_url"] = run_ui_url(self.settings, run.id)
        return RunPublic.model_validate(data)


def usage_public(run: Run) -> UsagePublic | None:
    """The run's ``usage`` field: what its agent reported, or None."""
    usage = Usage(
        input_tokens=run.input_tokens, output_tokens=run.output_tokens, cost_usd=run.cost_usd
    )
    if usage.total_tokens is None and usage.cost_usd is None:
        return None
    return UsagePublic(**usage.model_dump(), total_tokens=usage.total_tokens)


async def cancel_workflow(temporal: TemporalConnection, workflow_id: str) -> None:
    """Request cancellation of a run's workflow; one that already closed is fine."""
    client = await temporal.client()
    await missing_ok(client.get_workflow_handle(workflow_id).cancel())
