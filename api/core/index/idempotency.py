"""Queries on ``idempotency_keys``: claiming an owner's key, storing its answer, expiring it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.core.index.db import upsert_insert
from api.core.index.models import idempotency_keys

_T = idempotency_keys.c


def _where(owner: str, key: str) -> sa.ColumnElement[bool]:
    return sa.and_(_T.owner == owner, _T.key == key)


async def claim_key(
    session: AsyncSession,
    *,
    owner: str,
    key: str,
    fingerprint: str,
    now: datetime,
    resource_id: str,
) -> str | None:
    """Insert ``key`` as in progress for ``owner`` with ``resource_id``; None if the owner
    already has it.

    The primary key decides between simultaneous claims: exactly one inserts.

    Returns:
        The claim's resource id (``resource_id``), or None.
    """
    result = await session.execute(
        upsert_insert(session)(idempotency_keys)
        .values(
            owner=owner,
            key=key,
            fingerprint=fingerprint,
            created_at=now,
            claimed_at=now,
            resource_id=resource_id,
        )
        .on_conflict_do_nothing(index_elements=[_T.owner, _T.key])
        .returning(_T.resource_id)
    )
    row = result.first()
    return None if row is None else str(row.resource_id)


async def take_over_key(
    session: AsyncSession,
    *,
    owner: str,
    key: str,
    fingerprint: str,
    accepted: Collection[str],
    now: datetime,
    expired_before: datetime,
    abandoned_before: datetime,
    resource_id: str,
) -> str | None:
    """Claim an existing key anew, if it expired (created before ``expired_before``: any
    request may reuse it, under the new ``resource_id``) or its request was abandoned in
    progress (claimed before ``abandoned_before`` with no answer: only the same request, one
    whose fingerprints are ``accepted``, takes it over, and keeps the first attempt's resource
    id and creation time). Either way the key then has ``fingerprint``.

    Returns:
        The claim's resource id, if this call claimed it (one of simultaneous callers at
        most), else None.
    """
    expired = _T.created_at < expired_before
    abandoned = sa.and_(
        _T.status_code.is_(None),
        _T.claimed_at < abandoned_before,
        _T.fingerprint.in_(accepted),
    )
    result = await session.execute(
        idempotency_keys.update()
        .where(_where(owner, key), sa.or_(expired, abandoned))
        .values(
            fingerprint=fingerprint,
            status_code=None,
            response=None,
            created_at=sa.case((expired, now), else_=_T.created_at),
            claimed_at=now,
            resource_id=sa.case(
                (sa.or_(expired, _T.resource_id.is_(None)), resource_id),
                else_=_T.resource_id,
            ),
        )
        .returning(_T.resource_id)
    )
    row = result.first()
    return None if row is None else str(row.resource_id)


async def key_record(session: AsyncSession, *, owner: str, key: str) -> sa.Row[Any] | None:
    """The owner's row of ``key``, or None."""
    return (await session.execute(sa.select(idempotency_keys).where(_where(owner, key)))).first()


async def store_answer(
    session: AsyncSession, *, owner: str, key: str, status_code: int, response: str
) -> None:
    """Record the first answer to the owner's ``key``."""
    await session.execute(
        idempotency_keys.update()
        .where(_where(owner, key))
        .values(status_code=status_code, response=response)
    )


async def release_key(session: AsyncSession, *, owner: str, key: str) -> None:
    """Forget the owner's in-progress ``key`` (its request was refused before it acted: any
    request may use the key again)."""
    await session.execute(
        idempotency_keys.delete().where(_where(owner, key), _T.status_code.is_(None))
    )


async def abandon_key(session: AsyncSession, *, owner: str, key: str, since: datetime) -> None:
    """Mark the owner's in-progress ``key`` abandoned as of ``since`` (its request failed after
    it may have acted): the same request takes it over at once, with the same resource id."""
    await session.execute(
        idempotency_keys.update()
        .where(_where(owner, key), _T.status_code.is_(None))
        .values(claimed_at=since)
    )


async def forget_keys_before(conn: AsyncConnection, *, before: datetime) -> None:
    """Remove the keys created before ``before`` (expired)."""
    await conn.execute(idempotency_keys.delete().where(_T.created_at < before))
