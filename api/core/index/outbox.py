"""Queries on ``outbox``: deliveries ``dev`` kept instead of sending them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.core.index.db import upsert_insert
from api.core.index.models import outbox


async def keep_message(conn: AsyncConnection, *, values: dict[str, Any]) -> None:
    """Keep a delivery's message; a retry of the same ``delivery_id`` keeps the first one."""
    await conn.execute(
        upsert_insert(conn)(outbox)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[outbox.c.delivery_id])
    )


async def list_messages(
    session: AsyncSession, *, owner: str, limit: int, offset: int
) -> tuple[Sequence[sa.Row[Any]], int]:
    """A page of the owner's kept messages, newest first, and how many there are."""
    rows = (
        await session.execute(
            sa.select(outbox)
            .where(outbox.c.owner == owner)
            .order_by(outbox.c.created_at.desc(), outbox.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    count = (
        await session.execute(
            sa.select(sa.func.count()).select_from(outbox).where(outbox.c.owner == owner)
        )
    ).scalar_one()
    return rows, int(count)
