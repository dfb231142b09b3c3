"""Queries on chains and their runs. Every read of a chain is scoped to an owner."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from api.core.index.db import upsert_insert
from api.core.index.models import Chain, ChainJob, ChainRun, Job, chain_jobs, chain_runs, chains
from domain.contract.chains import ChainRunFinish, ChainRunStart


async def get_chain(session: AsyncSession, *, owner: str, chain_id: str) -> Chain | None:
    """The owner's chain, or None (another owner's chain is None too)."""
    result = await session.execute(
        select(Chain).where(col(Chain.id) == chain_id, col(Chain.owner) == owner)
    )
    return result.scalar_one_or_none()


async def list_chains(
    session: AsyncSession, *, owner: str, limit: int, offset: int
) -> tuple[list[Chain], int]:
    """A page of the owner's chains, newest first, and how many there are."""
    where = col(Chain.owner) == owner
    total = await session.execute(select(sa.func.count()).select_from(Chain).where(where))
    rows = await session.execute(
        select(Chain)
        .where(where)
        .order_by(col(Chain.created_at).desc(), col(Chain.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars()), int(total.scalar_one())


async def owned_job_ids(session: AsyncSession, *, owner: str, job_ids: list[str]) -> set[str]:
    """Which of ``job_ids`` are live jobs of the owner."""
    if not job_ids:
        return set()
    rows = await session.execute(
        select(Job.id).where(
            col(Job.id).in_(job_ids), col(Job.owner) == owner, col(Job.deleted_at).is_(None)
        )
    )
    return set(rows.scalars())


async def add_chain(session: AsyncSession, *, chain: Chain, roots: list[str]) -> None:
    """Store a chain and its job memberships, in one transaction."""
    session.add(chain)
    session.add_all(
        ChainJob(chain_id=chain.id, job_id=job_id, is_root=job_id in roots) for job_id in chain.jobs
    )
    await session.commit()


async def delete_chain(session: AsyncSession, *, chain_id: str) -> None:
    """Remove a chain, its memberships and its runs' records (its job runs stay)."""
    await session.execute(sa.delete(ChainRun).where(col(ChainRun.chain_id) == chain_id))
    await session.execute(sa.delete(ChainJob).where(col(ChainJob.chain_id) == chain_id))
    await session.execute(sa.delete(Chain).where(col(Chain.id) == chain_id))
    await session.commit()


async def chains_using_job(session: AsyncSession, *, job_id: str) -> list[str]:
    """Ids of the chains that have the job as a node."""
    rows = await session.execute(
        select(ChainJob.chain_id).where(col(ChainJob.job_id) == job_id).order_by("chain_id")
    )
    return list(rows.scalars())


async def get_chain_run(session: AsyncSession, *, chain_id: str, run_id: str) -> ChainRun | None:
    """A run of the chain, or None."""
    result = await session.execute(
        select(ChainRun).where(col(ChainRun.id) == run_id, col(ChainRun.chain_id) == chain_id)
    )
    return result.scalar_one_or_none()


async def list_chain_runs(
    session: AsyncSession, *, chain_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[ChainRun], int]:
    """A page of the chain's runs, newest first, and how many match in total."""
    where: list[sa.ColumnElement[bool]] = [col(ChainRun.chain_id) == chain_id]
    if status is not None:
        where.append(col(ChainRun.status) == status)
    total = await session.execute(select(sa.func.count()).select_from(ChainRun).where(*where))
    return await _newest_runs(session, where, limit=limit, offset=offset), int(total.scalar_one())


async def last_chain_runs(session: AsyncSession, *, chain_id: str, limit: int) -> list[ChainRun]:
    """The chain's latest runs, newest first."""
    return await _newest_runs(session, [col(ChainRun.chain_id) == chain_id], limit=limit, offset=0)


async def _newest_runs(
    session: AsyncSession, where: list[sa.ColumnElement[bool]], *, limit: int, offset: int
) -> list[ChainRun]:
    rows = await session.execute(
        select(ChainRun)
        .where(*where)
        .order_by(col(ChainRun.started_at).desc(), col(ChainRun.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return list(rows.scalars())


async def running_chain_run_ids(session: AsyncSession, *, chain_id: str) -> list[str]:
    """Ids of the chain's runs still running."""
    rows = await session.execute(
        select(ChainRun.id).where(
            col(ChainRun.chain_id) == chain_id, col(ChainRun.status) == "running"
        )
    )
    return list(rows.scalars())


# The worker's queries: Core statements on a connection the caller's transaction owns.


async def root_chains(conn: AsyncConnection, *, job_id: str) -> list[sa.Row[Any]]:
    """The chains (rows of ``chains``) whose root nodes include the job, in id order."""
    rows = await conn.execute(
        sa.select(chains)
        .join(chain_jobs, chain_jobs.c.chain_id == chains.c.id)
        .where(chain_jobs.c.job_id == job_id, chain_jobs.c.is_root)
        .order_by(chains.c.id)
    )
    return list(rows.all())


async def chain_exists(conn: AsyncConnection, *, chain_id: str) -> bool:
    """Whether the chain is in the index."""
    rows = await conn.execute(sa.select(chains.c.id).where(chains.c.id == chain_id))
    return rows.first() is not None


async def upsert_started_chain_run(conn: AsyncConnection, *, start: ChainRunStart) -> None:
    """Insert the chain run as ``running``, or only set its Temporal run id if it is there
    already (the API inserted a triggered one)."""
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
            index_elements=[chain_runs.c.id], set_={"temporal_run_id": start.temporal_run_id}
        )
    )


async def set_running_chain_run_nodes(
    conn: AsyncConnection, *, chain_run_id: str, nodes: list[dict[str, Any]]
) -> None:
    """Store where each node of a chain run is, if it is still running."""
    await conn.execute(
        chain_runs.update()
        .where(chain_runs.c.id == chain_run_id, chain_runs.c.status == "running")
        .values(nodes=nodes)
    )


async def running_chain_run_started_at(
    conn: AsyncConnection, *, chain_run_id: str
) -> datetime | None:
    """When the chain run started, or None unless it is still running."""
    rows = await conn.execute(
        sa.select(chain_runs.c.started_at).where(
            chain_runs.c.id == chain_run_id, chain_runs.c.status == "running"
        )
    )
    return rows.scalar_one_or_none()


async def end_chain_run(
    conn: AsyncConnection, *, finish: ChainRunFinish, started_at: datetime
) -> None:
    """Write how the chain run ended."""
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
