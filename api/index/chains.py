"""Queries on chains and their runs. Every read of a chain is scoped to an owner."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from api.index.models import Chain, ChainJob, ChainRun, Job


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
