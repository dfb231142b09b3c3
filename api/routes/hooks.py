"""Hook routes: signed event triggers of a job (docs/api.md, "Hooks")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from pydantic import BaseModel

from api.deps import (
    REPLAYED_HEADER,
    JobId,
    JobServiceDep,
    NowDep,
    SessionDep,
    StateDep,
)
from api.errors import BODY_RESPONSES, CONFLICT_RESPONSE, ERROR_RESPONSES
from api.routing import JsonRoute
from api.schemas.hooks import HookCreated, HookRunAccepted, HooksPublic
from api.services.hooks import MAX_BYTES, HookDelivery, HookService, Urls
from api.services.idempotency import KeyedAnswer
from api.services.jobs import JobService
from api.state import AppState
from domain.inputs import Text

router = APIRouter(route_class=JsonRoute, tags=["hooks"], responses=ERROR_RESPONSES)

HookId = Annotated[Text, Path(description="A hook id (`hk_…`).")]
DELIVER = "deliver_hook"


def _urls(request: Request, state: StateDep) -> Urls:
    """Absolute URLs under the API: ``AGENT_SCHEDULER_PUBLIC_URL`` if set, else the request's."""
    base = (state.settings.public_url or str(request.base_url)).rstrip("/")
    api = request.app.url_path_for(DELIVER, hook_id="_").removesuffix("/hooks/_")
    return lambda path: f"{base}{api}{path}"


async def _hooks(request: Request, state: StateDep, jobs: JobServiceDep) -> HookService:
    return HookService(jobs=jobs, urls=_urls(request, state))


HookServiceDep = Annotated[HookService, Depends(_hooks)]


def _jobs_of(state: AppState, session: SessionDep, now: NowDep) -> Callable[[str], JobService]:
    """The job operations of a hook's owner: no key, so no key's limits (its job's budget and
    conditions apply in the run, as to any run)."""

    def jobs(owner: str) -> JobService:
        return JobService(
            session=session,
            temporal=state.temporal,
            settings=state.settings,
            agents=state.agents,
            owner=owner,
            now=now,
        )

    return jobs


@router.post(
    "/jobs/{job_id}/hooks",
    status_code=status.HTTP_201_CREATED,
    response_model=HookCreated,
    responses=CONFLICT_RESPONSE,
)
async def create_hook(job_id: JobId, hooks: HookServiceDep) -> HookCreated:
    """Make a hook of the job: `POST` its `url` to run the job; the `secret` is shown only here."""
    return await hooks.create(job_id)


@router.get("/jobs/{job_id}/hooks", response_model=HooksPublic)
async def list_hooks(job_id: JobId, hooks: HookServiceDep) -> HooksPublic:
    """The job's hooks, oldest first (without their secrets)."""
    return await hooks.list(job_id)


@router.delete("/hooks/{hook_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_hook(hook_id: HookId, hooks: HookServiceDep) -> Response:
    """Delete a hook: deliveries to it are 404 from then on."""
    await hooks.delete(hook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/hooks/{hook_id}",
    name=DELIVER,
    status_code=status.HTTP_202_ACCEPTED,
    response_model=HookRunAccepted,
    responses={
        200: {"model": HookRunAccepted, "description": "a delivery id seen before: its run"},
        **{code: BODY_RESPONSES[code] for code in (408, 413)},
        **CONFLICT_RESPONSE,
    },
    # No API key: the hook's signature or secret (docs/api.md, "Hooks").
    openapi_extra={
        "security": [],
        # Not a key's scope: no key is read (docs/api.md, "Hooks").
        "x-scope": "public",
        "requestBody": {
            "required": False,
            "description": f"Any body up to {MAX_BYTES // 1024} KiB: JSON reaches the agent as "
            "`input`, anything else as text.",
            "content": {"application/json": {"schema": {}}, "text/plain": {"schema": {}}},
        },
    },
)
async def deliver_hook(
    hook_id: HookId, request: Request, state: StateDep, session: SessionDep, now: NowDep
) -> Response | BaseModel:
    """Run the hook's job with the body as its `input`; signed, or with the hook's secret."""
    delivery = HookDelivery(
        hook_id=hook_id,
        body=await request.body(),
        headers=request.headers,
        path=request.url.path,
        now=now,
        wait_seconds=state.settings.idempotency_wait_seconds,
    )
    answer = await delivery.deliver(session, _jobs_of(state, session, now), _urls(request, state))
    if not isinstance(answer, KeyedAnswer):
        return answer
    return Response(
        answer.body,
        status_code=status.HTTP_200_OK if answer.replayed else answer.status_code,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"} if answer.replayed else None,
    )
