"""Chain routes (docs/api.md, "Chains")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel

from api.deps import (
    ChainId,
    ChainRunId,
    ChainServiceDep,
    IdempotencyDep,
    Limit,
    Offset,
)
from api.errors import CONFLICT_RESPONSE, ERROR_RESPONSES
from api.routing import JsonRoute
from api.schemas.chains import (
    ChainCreate,
    ChainPublic,
    ChainRunCancelAccepted,
    ChainRunPublic,
    ChainRunsPublic,
    ChainsPublic,
    ChainTriggerAccepted,
)
from domain.chains import ChainRunStatus

router = APIRouter(
    route_class=JsonRoute, prefix="/chains", tags=["chains"], responses=ERROR_RESPONSES
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ChainPublic,
    responses=CONFLICT_RESPONSE,
)
async def create_chain(
    body: ChainCreate, chains: ChainServiceDep, once: IdempotencyDep
) -> Response | BaseModel:
    """Create a chain of the caller's jobs (the graph must be acyclic); an `Idempotency-Key`
    makes a retry safe."""

    async def create(resource_id: str | None) -> tuple[ChainPublic, bool]:
        chain, found = await chains.create_once(body, resource_id=resource_id)
        return await chains.public(chain), found

    return await once.respond(status.HTTP_201_CREATED, create)


@router.get("", response_model=ChainsPublic)
async def list_chains(
    chains: ChainServiceDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ChainsPublic:
    """List the caller's chains, newest first; `count` is the total."""
    return await chains.list(limit=limit, offset=offset)


@router.get("/{chain_id}", response_model=ChainPublic)
async def get_chain(chain_id: ChainId, chains: ChainServiceDep) -> ChainPublic:
    """One chain, with its last runs and the status of each node in the latest one."""
    return await chains.public(await chains.get(chain_id))


@router.delete("/{chain_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_chain(chain_id: ChainId, chains: ChainServiceDep) -> Response:
    """Delete a chain (its running runs are cancelled); its jobs stay."""
    await chains.delete(chain_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{chain_id}/trigger",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ChainTriggerAccepted,
)
async def trigger_chain(chain_id: ChainId, chains: ChainServiceDep) -> ChainTriggerAccepted:
    """Run the chain now: every root runs, then the nodes its edges lead to."""
    return ChainTriggerAccepted(run_id=await chains.trigger(chain_id), chain_id=chain_id)


@router.get("/{chain_id}/runs", response_model=ChainRunsPublic)
async def list_chain_runs(
    chain_id: ChainId,
    chains: ChainServiceDep,
    status_: Annotated[ChainRunStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ChainRunsPublic:
    """The chain's runs, newest first; `count` is the total matching the filter."""
    return await chains.runs(chain_id, status=status_, limit=limit, offset=offset)


@router.get("/{chain_id}/runs/{run_id}", response_model=ChainRunPublic)
async def get_chain_run(
    chain_id: ChainId, run_id: ChainRunId, chains: ChainServiceDep
) -> ChainRunPublic:
    """One chain run, node by node."""
    return chains.run_public(await chains.get_run(chain_id, run_id))


@router.post(
    "/{chain_id}/runs/{run_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ChainRunCancelAccepted,
    responses=CONFLICT_RESPONSE,
)
async def cancel_chain_run(
    chain_id: ChainId, run_id: ChainRunId, chains: ChainServiceDep
) -> ChainRunCancelAccepted:
    """Cancel a running chain run: its running nodes are cancelled, the rest skipped."""
    await chains.cancel_run(chain_id, run_id)
    return ChainRunCancelAccepted(run_id=run_id, chain_id=chain_id)
