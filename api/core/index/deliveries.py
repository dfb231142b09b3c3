"""Queries on ``deliveries_sent``: what each delivery has sent so far."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from api.core.index.db import upsert_insert
from api.core.index.models import deliveries_sent


async def delivery_sent(conn: AsyncConnection, *, delivery_id: str) -> sa.Row[Any] | None:
    """What the delivery sent (its ``deliveries_sent`` row), or None if nothing yet."""
    return (
        await conn.execute(
            sa.select(deliveries_sent).where(deliveries_sent.c.delivery_id == delivery_id)
        )
    ).first()


async def remember_delivery(
    conn: AsyncConnection, *, delivery_id: str, run_id: str, values: dict[str, Any]
) -> None:
    """Insert or overwrite what the delivery sent (``values``: the columns besides its ids)."""
    await conn.execute(
        upsert_insert(conn)(deliveries_sent)
        .values(delivery_id=delivery_id, run_id=run_id, **values)
        .on_conflict_do_update(index_elements=[deliveries_sent.c.delivery_id], set_=values)
    )


async def forget_deliveries_before(conn: AsyncConnection, *, before: datetime) -> None:
    """Remove what deliveries last updated before ``before`` sent."""
    await conn.execute(deliveries_sent.delete().where(deliveries_sent.c.updated_at < before))
