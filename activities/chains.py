"""Index writes of the chain workflow, and the hand-over from a root job's run to its chains.

All of them are idempotent: an activity retried after a worker died changes nothing twice.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.index.db import upsert_insert
from api.index.models import chain_jobs, chain_runs, chains
from domain import search_attributes
from domain.chains import (
    CHAIN_WORKFLOW,
    AdoptedRun,
    ChainGraph,
    ChainRunFinish,
    ChainRunInput,
    ChainRunProgress,
    ChainRunStart,
    ChainRunStarted,
    adopted_chain_run_id,
)
from domain.payloads import RunFinish


def chain_search_attributes(owner: str) -> TypedSearchAttributes:
    """Search attributes of a chain run's workflow."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(search_attributes.OWNER, owner),
            SearchAttributePair(search_attributes.TRIGGER, "chain"),
        ]
    )


def chain_run_input(chain: Any, **kwargs: Any) -> ChainRunInput:
    """The chain workflow's input for a chain row (a mapping or model with its columns)."""
    return ChainRunInput(
        chain_id=chain.id,
        owner=chain.owner,
        name=chain.name,
        graph=ChainGraph.model_validate({"jobs": chain.jobs, "edges": chain.edges}),
        **kwargs,
    )


async def root_chains(conn: AsyncConnection, job_id: str) -> list[Any]:
    """The chains whose root nodes include the job, in id order."""
    return list(
        (
            await conn.execute(
                sa.select(chains)
                .join(chain_jobs, chain_jobs.c.chain_id == chains.c.id)
                .where(chain_jobs.c.job_id == job_id, chain_jobs.c.is_root)
                .order_by(chains.c.id)
            )
        ).all()
    )


async def continue_into_chains(
    temporal: Client, roots: list[Any], finish: RunFinish, *, task_queue: str
) -> None:
    """Start a chain run of every chain in ``roots``, adopting the finished standalone run.

    The chain run's workflow id derives from the run and chain ids and is never reused, so a
    retried call cannot start it twice.
    """
    root = AdoptedRun(
        job_id=finish.job_id,
        run_id=finish.run_id,
        status=finish.status,
        output=finish.output,
        data=finish.data,
        error=finish.error,
    )
    for chain in roots:
        try:
            await temporal.start_workflow(
                CHAIN_WORKFLOW,
                chain_run_input(chain, trigger="root_run", root=root),
                id=adopted_chain_run_id(chain.id, finish.run_id),
                task_queue=task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=chain_search_attributes(chain.owner),
                static_summary=f"{chain.name} (after {finish.run_id})"[:200],
            )
        except WorkflowAlreadyStartedError:
            pass  # a retry of this call: the chain run exists already


class ChainRecorder:
    """Activities that record chain runs in the index; built once in the worker."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def activities(self) -> list[Any]:
        """Every activity of this class, for the worker."""
        return [self.record_start, self.record_progress, self.record_finish]

    @activity.defn(name="record_chain_run_start")
    async def record_start(self, start: ChainRunStart) -> ChainRunStarted:
        """Insert the chain run as ``running`` (once); says whether the chain still exists."""
        async with self._engine.begin() as conn:
            exists = (
                await conn.execute(sa.select(chains.c.id).where(chains.c.id == start.chain_id))
            ).first()
            if exists is None:
                return ChainRunStarted(exists=False)
            # A triggered chain run was inserted by the API already; it only lacks the run id.
            await conn.execute(
                upsert_insert(conn)(chain_runs)
                .values(
                    id=start.chain_run_id,
                    chain_id=start.chain_id,
                    owner=start.owner,
                    trigger=start.trigger,
                    root_run_id=start.root_run_id,
                    status="running",
                    started_at=start.started_at,
                    nodes=[n.model_dump(mode="json") for n in start.nodes],
                    temporal_run_id=start.temporal_run_id,
                )
                .on_conflict_do_update(
                    index_elements=[chain_runs.c.id],
                    set_={"temporal_run_id": start.temporal_run_id},
                )
            )
            return ChainRunStarted(exists=True)

    @activity.defn(name="record_chain_run_progress")
    async def record_progress(self, progress: ChainRunProgress) -> None:
        """Store where each node of a running chain run is."""
        async with self._engine.begin() as conn:
            await conn.execute(
                chain_runs.update()
                .where(chain_runs.c.id == progress.chain_run_id, chain_runs.c.status == "running")
                .values(nodes=[n.model_dump(mode="json") for n in progress.nodes])
            )

    @activity.defn(name="record_chain_run_finish")
    async def record_finish(self, finish: ChainRunFinish) -> None:
        """Record how the chain run ended; a second call changes nothing."""
        async with self._engine.begin() as conn:
            started_at = (
                await conn.execute(
                    sa.select(chain_runs.c.started_at).where(
                        chain_runs.c.id == finish.chain_run_id, chain_runs.c.status == "running"
                    )
                )
            ).scalar_one_or_none()
            if started_at is None:
                return
            await conn.execute(
                chain_runs.update()
                .where(chain_runs.c.id == finish.chain_run_id)
                .values(
                    status=finish.status,
                    completed_at=finish.completed_at,
                    duration_seconds=(finish.completed_at - started_at).total_seconds(),
                    nodes=[n.model_dump(mode="json") for n in finish.nodes],
                    error=finish.error,
                )
            )
