"""Job routes (docs/api.md, "Jobs")."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel

from api.deps import IdempotencyDep, JobId, JobServiceDep, Limit, NowDep, Offset, RunServiceDep
from api.errors import CONFLICT_RESPONSE, ERROR_RESPONSES
from api.routing import JsonRoute
from api.schemas.jobs import (
    BackfillAccepted,
    BackfillRequest,
    Explanation,
    JobCreate,
    JobPublic,
    JobsPublic,
    JobUpdate,
    PauseRequest,
    SkipRequest,
    TriggerAccepted,
)
from api.services.explain import explain
from domain.inputs import IsoDatetime

router = APIRouter(route_class=JsonRoute, prefix="/jobs", tags=["jobs"], responses=ERROR_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=JobPublic,
    responses=CONFLICT_RESPONSE,
)
async def create_job(
    body: JobCreate, jobs: JobServiceDep, once: IdempotencyDep
) -> Response | BaseModel:
    """Create a job and its Temporal schedule; an `Idempotency-Key` makes a retry safe."""

    async def create(resource_id: str | None) -> tuple[JobPublic, bool]:
        job, found = await jobs.create_once(body, resource_id=resource_id)
        return jobs.public(job), found

    return await once.respond(status.HTTP_201_CREATED, create)


@router.get("", response_model=JobsPublic)
async def list_jobs(
    jobs: JobServiceDep,
    status_: Annotated[
        Literal["active", "paused", "completed", "failed"] | None, Query(alias="status")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> JobsPublic:
    """List the caller's jobs, newest first; `count` is the total matching the filter."""
    return await jobs.list(status=status_, limit=limit, offset=offset)


@router.get("/{job_id}", response_model=JobPublic)
async def get_job(job_id: JobId, jobs: JobServiceDep) -> JobPublic:
    """One job."""
    return jobs.public(await jobs.get(job_id))


@router.put("/{job_id}", response_model=JobPublic, responses=CONFLICT_RESPONSE)
async def update_job(job_id: JobId, body: JobUpdate, jobs: JobServiceDep) -> JobPublic:
    """Change only the fields sent; a new schedule applies from the next fire."""
    return jobs.public(await jobs.update(job_id, body))


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, responses=CONFLICT_RESPONSE)
async def delete_job(job_id: JobId, jobs: JobServiceDep, cancel_running: bool = False) -> Response:
    """Delete a job and its schedule; `cancel_running=true` also cancels its runs."""
    await jobs.delete(job_id, cancel_running=cancel_running)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{job_id}/pause", response_model=JobPublic, responses=CONFLICT_RESPONSE)
async def pause_job(
    job_id: JobId, jobs: JobServiceDep, body: PauseRequest | None = None
) -> JobPublic:
    """Pause a job: its schedule stops firing; an optional `reason` is kept in `paused_reason`."""
    return jobs.public(await jobs.pause(job_id, reason=body.reason if body else None))


@router.post("/{job_id}/resume", response_model=JobPublic, responses=CONFLICT_RESPONSE)
async def resume_job(job_id: JobId, jobs: JobServiceDep) -> JobPublic:
    """Resume a paused job."""
    return jobs.public(await jobs.resume(job_id))


@router.post(
    "/{job_id}/trigger",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TriggerAccepted,
    responses=CONFLICT_RESPONSE,
)
async def trigger_job(
    job_id: JobId, jobs: JobServiceDep, once: IdempotencyDep
) -> Response | BaseModel:
    """Run the job now, whatever its schedule or status; an `Idempotency-Key` runs it once."""

    async def trigger(resource_id: str | None) -> tuple[TriggerAccepted, bool]:
        run_id, found = await jobs.trigger_once(job_id, resource_id=resource_id)
        return TriggerAccepted(run_id=run_id, job_id=job_id), found

    return await once.respond(status.HTTP_202_ACCEPTED, trigger)


@router.post(
    "/{job_id}/backfill",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BackfillAccepted,
    responses=CONFLICT_RESPONSE,
)
async def backfill_job(
    job_id: JobId, body: BackfillRequest, jobs: JobServiceDep, now: NowDep
) -> BackfillAccepted:
    """Run the schedule's past fires in `[start, end)` that have not run (at most 1,000)."""
    return await jobs.backfill(job_id, body, now=now)


@router.post("/{job_id}/skip", response_model=JobPublic)
async def skip_fire(job_id: JobId, body: SkipRequest, jobs: JobServiceDep) -> JobPublic:
    """Skip one future fire of the job's schedule (listed in `schedule.exclude.skipped`)."""
    return jobs.public(await jobs.skip(job_id, body.at))


@router.delete("/{job_id}/skip/{at}", response_model=JobPublic)
async def unskip_fire(
    job_id: JobId,
    at: Annotated[
        IsoDatetime, Path(description="A skipped fire time; without an offset, in the job's zone.")
    ],
    jobs: JobServiceDep,
) -> JobPublic:
    """Undo a skip: the fire at `at` runs again."""
    return jobs.public(await jobs.unskip(job_id, at))


@router.get("/{job_id}/explain", response_model=Explanation)
async def explain_job(
    job_id: JobId,
    runs: RunServiceDep,
    now: NowDep,
    at: Annotated[
        IsoDatetime, Query(description="An ISO instant; without an offset, in the job's zone.")
    ],
) -> Explanation:
    """Was the job due at `at`, and why did it (not) run: from the index and Temporal."""
    return await explain(runs, job_id, at, now=now)
