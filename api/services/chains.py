"""Chains: the graph in the index; each chain run a Temporal workflow (docs/api.md, "Chains")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import Conflict, FieldError, Invalid, NotFound
from api.core.index import chains as store
from api.core.index.models import Chain, ChainRun
from api.core.settings import Settings
from api.core.temporal import TemporalConnection
from api.schemas.chains import (
    ChainCreate,
    ChainNodePublic,
    ChainPublic,
    ChainRunPublic,
    ChainRunsPublic,
    ChainsPublic,
)
from api.schemas.runs import TemporalRef
from api.services.access import Guard
from api.services.runs import cancel_workflow, run_ui_url
from domain import search_attributes
from domain.chains import CHAIN_RUN_PREFIX, ChainGraph, GraphProblem, check_graph
from domain.contract.chains import ChainNode, ChainRunResult, chain_run_input
from domain.contract.names import CHAIN_WORKFLOW
from domain.ids import new_id

LAST_RUNS = 5


@dataclass
class ChainService:
    """Chain operations for one owner."""

    session: AsyncSession
    temporal: TemporalConnection
    settings: Settings
    owner: str
    now: datetime
    """The request's instant (``NowDep``)."""
    guard: Guard = field(default_factory=lambda: Guard(None))
    """The caller's key limits (docs/api.md, "Limits of a key")."""

    async def create(self, body: ChainCreate) -> Chain:
        """Validate the graph and the caller's jobs, then store the chain."""
        return (await self.create_once(body, resource_id=None))[0]

    async def create_once(
        self, body: ChainCreate, *, resource_id: str | None
    ) -> tuple[Chain, bool]:
        """Store the chain as ``chain_<resource_id>`` (a random id when None); a keyed
        request's retry finds the chain its first attempt stored.

        Returns:
            The chain, and whether an earlier attempt had stored it.
        """
        chain_id = new_id("chain") if resource_id is None else f"chain_{resource_id}"
        if resource_id is not None and (
            earlier := await store.get_chain(self.session, owner=self.owner, chain_id=chain_id)
        ):
            return earlier, True
        problems = check_graph(body.jobs, body.edges)
        owned = await store.owned_job_ids(self.session, owner=self.owner, job_ids=body.jobs)
        problems += [
            GraphProblem(field=f"jobs.{i}", message=f"job {job_id} not found")
            for i, job_id in enumerate(body.jobs)
            if job_id not in owned
        ]
        if problems:
            problems.sort(key=lambda p: (not p.field.startswith("jobs"), p.field))
            raise Invalid(
                "; ".join(f"{p.field}: {p.message}" for p in problems),
                details=[FieldError(field=p.field, message=p.message) for p in problems],
            )
        await self.guard.check_chain(self.session, job_ids=list(body.jobs), now=self.now)
        now = self.now
        graph = ChainGraph(jobs=body.jobs, edges=body.edges)
        chain = Chain(
            id=chain_id,
            owner=self.owner,
            name=body.name,
            jobs=body.jobs,
            edges=[e.model_dump(mode="json", by_alias=True) for e in body.edges],
            created_at=now,
            updated_at=now,
        )
        try:
            await store.add_chain(self.session, chain=chain, roots=graph.roots())
        except IntegrityError:
            # A simultaneous attempt of the same keyed request stored it first.
            await self.session.rollback()
            earlier = await store.get_chain(self.session, owner=self.owner, chain_id=chain_id)
            if resource_id is None or earlier is None:
                raise
            return earlier, True
        return chain, False

    async def get(self, chain_id: str) -> Chain:
        """The owner's chain, or 404."""
        chain = await store.get_chain(self.session, owner=self.owner, chain_id=chain_id)
        if chain is None:
            raise NotFound(f"Chain {chain_id} not found")
        return chain

    async def list(self, *, limit: int, offset: int) -> ChainsPublic:
        """A page of the owner's chains, newest first."""
        chains, count = await store.list_chains(
            self.session, owner=self.owner, limit=limit, offset=offset
        )
        return ChainsPublic(chains=[await self.public(chain) for chain in chains], count=count)

    async def delete(self, chain_id: str) -> None:
        """Cancel the chain's running runs and remove it; the jobs and their runs stay."""
        chain = await self.get(chain_id)
        for run_id in await store.running_chain_run_ids(self.session, chain_id=chain.id):
            await cancel_workflow(self.temporal, run_id)
        await store.delete_chain(self.session, chain_id=chain.id)

    async def trigger(self, chain_id: str) -> str:
        """Start a chain run now (every root runs); returns the chain run id.

        The chain run is in the index before its workflow starts, so it can be read (and
        cancelled) as soon as its id is returned.
        """
        chain = await self.get(chain_id)
        await self.guard.check_start(self.session, now=self.now)
        client = await self.temporal.client()
        run = ChainRun(
            id=new_id(CHAIN_RUN_PREFIX.rstrip("_"), 16),
            chain_id=chain.id,
            owner=chain.owner,
            trigger="manual",
            status="running",
            started_at=self.now,
            nodes=[ChainNode(job_id=job).model_dump(mode="json") for job in chain.jobs],
        )
        self.session.add(run)
        await self.session.commit()
        try:
            await client.start_workflow(
                CHAIN_WORKFLOW,
                chain_run_input(chain, trigger="manual"),
                id=run.id,
                task_queue=self.settings.task_queue,
                result_type=ChainRunResult,
                search_attributes=search_attributes.chain_attributes(chain.owner),
                static_summary=f"{chain.name} (manual)"[:200],
            )
        except BaseException:
            await self.session.delete(run)
            await self.session.commit()
            raise
        return run.id

    async def runs(
        self, chain_id: str, *, status: str | None, limit: int, offset: int
    ) -> ChainRunsPublic:
        """A page of the chain's runs, newest first."""
        chain = await self.get(chain_id)
        runs, count = await store.list_chain_runs(
            self.session, chain_id=chain.id, status=status, limit=limit, offset=offset
        )
        return ChainRunsPublic(runs=[self.run_public(run) for run in runs], count=count)

    async def get_run(self, chain_id: str, run_id: str) -> ChainRun:
        """One run of the owner's chain, or 404."""
        chain = await self.get(chain_id)
        run = await store.get_chain_run(self.session, chain_id=chain.id, run_id=run_id)
        if run is None:
            raise NotFound(f"Chain run {run_id} not found")
        return run

    async def cancel_run(self, chain_id: str, run_id: str) -> None:
        """Cancel a running chain run: its running nodes are cancelled, the rest skipped."""
        run = await self.get_run(chain_id, run_id)
        if run.status != "running":
            raise Conflict(f"Chain run {run_id} already finished ({run.status})")
        await cancel_workflow(self.temporal, run.id)

    async def public(self, chain: Chain) -> ChainPublic:
        """The API view of a chain, with its latest runs."""
        runs = await store.last_chain_runs(self.session, chain_id=chain.id, limit=LAST_RUNS)
        last = [self.run_public(run) for run in runs]
        latest = {node.job_id: node for node in last[0].nodes} if last else {}
        return ChainPublic.model_validate(
            {
                "id": chain.id,
                "name": chain.name,
                "jobs": chain.jobs,
                "edges": chain.edges,
                "roots": ChainGraph.model_validate(
                    {"jobs": chain.jobs, "edges": chain.edges}
                ).roots(),
                "nodes": [
                    latest.get(job) or ChainNodePublic(job_id=job, status=None, run_id=None)
                    for job in chain.jobs
                ],
                "last_runs": last,
                "created_at": chain.created_at,
                "updated_at": chain.updated_at,
            }
        )

    def run_public(self, run: ChainRun) -> ChainRunPublic:
        """The API view of a chain run."""
        data = run.model_dump(exclude={"owner", "temporal_run_id"})
        data["temporal"] = TemporalRef(workflow_id=run.id, run_id=run.temporal_run_id)
        data["temporal_ui_url"] = run_ui_url(self.settings, run.id)
        return ChainRunPublic.model_validate(data)
