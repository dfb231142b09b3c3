"""Index writes of the chain workflow, and the hand-over from a root job's run to its chains.

All of them are idempotent: an activity retried after a worker died changes nothing twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.core.index import chains as index
from domain import search_attributes
from domain.chains import adopted_chain_run_id
from domain.contract.chains import (
    AdoptedRun,
    ChainRunFinish,
    ChainRunProgress,
    ChainRunStart,
    ChainRunStarted,
    chain_run_input,
)
from domain.contract.names import (
    CHAIN_WORKFLOW,
    RECORD_CHAIN_RUN_FINISH,
    RECORD_CHAIN_RUN_PROGRESS,
    RECORD_CHAIN_RUN_START,
)
from domain.contract.runs import RunFinish


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
                search_attributes=search_attributes.chain_attributes(chain.owner),
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

    @activity.defn(name=RECORD_CHAIN_RUN_START)
    async def record_start(self, start: ChainRunStart) -> ChainRunStarted:
        """Insert the chain run as ``running`` (once); says whether the chain still exists."""
        async with self._engine.begin() as conn:
            if not await index.chain_exists(conn, chain_id=start.chain_id):
                return ChainRunStarted(exists=False)
            await index.upsert_started_chain_run(conn, start=start)
            return ChainRunStarted(exists=True)

    @activity.defn(name=RECORD_CHAIN_RUN_PROGRESS)
    async def record_progress(self, progress: ChainRunProgress) -> None:
        """Store where each node of a running chain run is."""
        async with self._engine.begin() as conn:
            await index.set_running_chain_run_nodes(
                conn,
                chain_run_id=progress.chain_run_id,
                nodes=[n.model_dump(mode="json") for n in progress.nodes],
            )

    @activity.defn(name=RECORD_CHAIN_RUN_FINISH)
    async def record_finish(self, finish: ChainRunFinish) -> None:
        """Record how the chain run ended; a second call changes nothing."""
        async with self._engine.begin() as conn:
            started_at = await index.running_chain_run_started_at(
                conn, chain_run_id=finish.chain_run_id
            )
            if started_at is None:
                return
            await index.end_chain_run(conn, finish=finish, started_at=started_at)
