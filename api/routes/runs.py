"""Run routes (docs/api.md, "Runs")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import JobId, Limit, Offset, RunId, RunServiceDep
from api.errors import CONFLICT_RESPONSE, ERROR_RESPONSES
from api.routing import JsonRoute
from api.schemas.runs import CancelAccepted, RedeliverAccepted, RunPublic, RunsPublic, RunStatus

router = APIRouter(
    route_class=JsonRoute, prefix="/jobs/{job_id}/runs", tags=["runs"], responses=ERROR_RESPONSES
)


@router.get("", response_model=RunsPublic)
async def list_runs(
    job_id: JobId,
    runs: RunServiceDep,
    status_: Annotated[RunStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RunsPublic:
    """The job's runs, newest first; `count` is the total matching the filter."""
    return await runs.list(job_id, status=status_, limit=limit, offset=offset)


@router.get("/{run_id}", response_model=RunPublic)
async def get_run(job_id: JobId, run_id: RunId, runs: RunServiceDep) -> RunPublic:
    """One run."""
    return runs.public(await runs.get(job_id, run_id))


@router.post(
    "/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CancelAccepted,
    responses=CONFLICT_RESPONSE,
)
async def cancel_run(job_id: JobId, run_id: RunId, runs: RunServiceDep) -> CancelAccepted:
    """Cancel a running run: the agent call stops and the run ends `cancelled`."""
    await runs.cancel(job_id, run_id)
    return CancelAccepted(run_id=run_id, job_id=job_id)


@router.post(
    "/{run_id}/redeliver",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RedeliverAccepted,
    responses=CONFLICT_RESPONSE,
)
async def redeliver_run(job_id: JobId, run_id: RunId, runs: RunServiceDep) -> RedeliverAccepted:
    """Retry only the delivery of a finished run (to the job's current channel); the agent is
    not called again. The run's `delivery` shows the outcome."""
    await runs.redeliver(job_id, run_id)
    return RedeliverAccepted(run_id=run_id, job_id=job_id)
