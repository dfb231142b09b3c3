"""Queries on ``idempotency_keys``: claiming an owner's key, storing its answer, expiring it."""

from __future__ import annotations

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
    session: AsyncSession, *, owner: str, key: str, fingerprint: str, now: datetime
) -> bool:
    """Insert ``key`` as in progress for ``owner``; False if the owner already has it.

    The primary key decides between simultaneous claims: exactly one inserts.
    """
    result = await session.execute(
        upsert_insert(session)(idempotency_keys)
        .values(owner=owner, key=key, fingerprint=fingerprint, created_at=now, claimed_at=now)
        .on_conflict_do_nothing(index_elements=[_T.owner, _T.key])
        .returning(_T.key)
    )
    return result.first() is not None


async def take_over_key(
    session: AsyncSession,
    *,
    owner: str,
    key: str,
    fingerprint: str,
    now: datetime,
    expired_before: datetime,
    abandoned_before: datetime,
) -> bool:
    """Claim an existing key anew, if it expired (created before ``expired_before``: any
    request may reuse it) or its request was abandoned in progress (claimed before
    ``abandoned_before`` with no answer: only the same request takes it over).

    Returns:
        Whether this call claimed it (one of simultaneous callers at most).
    """
    expired = _T.created_at < expired_before
    abandoned = sa.and_(
        _T.status_code.is_(None),
        _T.claimed_at < abandoned_before,
        _T.fingerprint == fingerprint,
    )
    result = await session.execute(
        idempotency_keys.update()
        .where(_where(owner, key), sa.or_(expired, abandoned))
        .values(
            fingerprint=fingerprint,
            status_code=None,
            response=None,
            created_at=now,
            claimed_at=now,
        )
        .returning(_T.key)
    )
    return result.first() is not None


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
    """Forget the owner's in-progress ``key`` (its request failed: a retry runs again)."""
    await session.execute(
        idempotency_keys.delete().where(_where(owner, key), _T.status_code.is_(None))
    )


async def forget_keys_before(conn: AsyncConnection, *, before: datetime) -> None:
    """Remove the keys created before ``before`` (expired)."""
    await conn.execute(idempotency_keys.delete().where(_T.created_at < before))
