"""Queries on ``hooks``: a job's signed event triggers (docs/api.md, "Hooks")."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from api.core.index.models import Hook, hooks


async def add_hook(session: AsyncSession, *, hook: Hook) -> None:
    """Insert ``hook`` and commit."""
    session.add(hook)
    await session.commit()


async def list_hooks(session: AsyncSession, *, job_id: str) -> list[Hook]:
    """The job's hooks, oldest first."""
    rows = await session.execute(
        select(Hook).where(col(Hook.job_id) == job_id).order_by(col(Hook.created_at), col(Hook.id))
    )
    return list(rows.scalars())


async def get_hook(session: AsyncSession, *, hook_id: str, owner: str | None = None) -> Hook | None:
    """The hook ``hook_id`` (of ``owner`` only, when given), or None."""
    query = select(Hook).where(col(Hook.id) == hook_id)
    if owner is not None:
        query = query.where(col(Hook.owner) == owner)
    return (await session.execute(query)).scalar_one_or_none()


async def delete_hook(session: AsyncSession, *, hook_id: str, owner: str) -> bool:
    """Remove the owner's hook and commit; False if the owner has no such hook."""
    result = await session.execute(
        sa.delete(hooks).where(hooks.c.id == hook_id, hooks.c.owner == owner).returning(hooks.c.id)
    )
    deleted = result.first() is not None
    await session.commit()
    return deleted
