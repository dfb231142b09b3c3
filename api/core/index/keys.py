"""API keys: created once in plaintext, stored as a SHA-256 hash (docs/api.md, "Keys and scopes").

All queries of the ``api_keys`` and ``rate_counts`` tables live here.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlmodel import col, select

from api.core.index.db import upsert_insert
from api.core.index.models import ApiKey, RateCount, jobs, runs, utcnow
from domain.ids import new_id

_KEYS: sa.Table = ApiKey.__table__  # type: ignore[attr-defined]


def hash_key(plaintext: str) -> str:
    """The stored form of a key. Keys carry 256 random bits, so a plain SHA-256 suffices."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


async def create_key(
    session: AsyncSession,
    *,
    owner: str,
    name: str | None = None,
    scope: str = "write",
    limits: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
    key_id: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for ``owner`` (as ``key_id``: a new id by default) and commit; returns the
    row and the plaintext (shown only once)."""
    plaintext = "sk_" + secrets.token_urlsafe(32)
    row = ApiKey(
        id=key_id or new_id("key"),
        owner=owner,
        prefix=plaintext[:10],
        key_hash=hash_key(plaintext),
        name=name,
        scope=scope,
        limits=limits or None,
        expires_at=expires_at,
    )
    session.add(row)
    await session.commit()
    return row, plaintext


async def list_keys(session: AsyncSession, *, owner: str | None = None) -> list[ApiKey]:
    """Every key (of ``owner``, when given), newest first."""
    query = select(ApiKey).order_by(col(ApiKey.created_at).desc(), col(ApiKey.id).desc())
    if owner is not None:
        query = query.where(ApiKey.owner == owner)
    result = await session.execute(query)
    return list(result.scalars())


async def get_key(session: AsyncSession, *, key_id: str, owner: str | None = None) -> ApiKey | None:
    """A key by id (only ``owner``'s, when given)."""
    row = await session.get(ApiKey, key_id)
    if row is None or (owner is not None and row.owner != owner):
        return None
    return row


async def revoke_key(session: AsyncSession, *, key_id: str, owner: str | None = None) -> bool:
    """Revoke a key (only ``owner``'s, when given); False if there is no such key."""
    row = await get_key(session, key_id=key_id, owner=owner)
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.commit()
    return True


async def expire_key(session: AsyncSession, *, row: ApiKey, at: datetime) -> None:
    """Make a key stop working at ``at`` (a rotation's end of overlap), unless it ends sooner."""
    if row.expires_at is None or row.expires_at > at:
        row.expires_at = at
    await session.commit()


_api_keys: sa.Table = ApiKey.__table__  # type: ignore[attr-defined]
_rate_counts: sa.Table = RateCount.__table__  # type: ignore[attr-defined]

# Built once: every authenticated request runs it. The key's row with all the request needs.
_KEY_OF_HASH = sa.select(
    *(
        _api_keys.c[name]
        for name in (
            "id",
            "owner",
            "name",
            "scope",
            "limits",
            "expires_at",
            "revoked_at",
            "last_used_at",
        )
    )
).where(_api_keys.c.key_hash == sa.bindparam("key_hash"))


async def key_of(session: AsyncSession, *, plaintext: str) -> sa.Row[Any] | None:
    """The row of a key (revoked and expired ones too), or None for an unknown one: one indexed
    lookup."""
    result = await session.execute(_KEY_OF_HASH, {"key_hash": hash_key(plaintext)})
    return result.one_or_none()


async def owner_of(session: AsyncSession, *, plaintext: str) -> str | None:
    """The owner of a live key, or None for an unknown, revoked or expired one."""
    row = await key_of(session, plaintext=plaintext)
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    return str(row.owner)


async def touch_key(session: AsyncSession, *, key_id: str, at: datetime) -> None:
    """Record a use of the key at ``at``, unless one was recorded in the minute before it."""
    await session.execute(
        _api_keys.update()
        .where(
            _api_keys.c.id == key_id,
            sa.or_(
                _api_keys.c.last_used_at.is_(None),
                _api_keys.c.last_used_at < at - timedelta(minutes=1),
            ),
        )
        .values(last_used_at=at)
    )
    await session.commit()


async def count_request(session: AsyncSession, *, key_id: str, window: int) -> int:
    """Count one request of the key in ``window``; how many it has made there, this one
    included. One UPSERT; the window's first request also drops the key's older windows."""
    insert = upsert_insert(session)(_rate_counts).values(key_id=key_id, window=window, count=1)
    statement = insert.on_conflict_do_update(
        index_elements=["key_id", "window"], set_={"count": _rate_counts.c.count + 1}
    ).returning(_rate_counts.c.count)
    count = int((await session.execute(statement)).scalar_one())
    if count == 1:
        await session.execute(
            _rate_counts.delete().where(
                _rate_counts.c.key_id == key_id, _rate_counts.c.window < window
            )
        )
    await session.commit()
    return count


async def live_jobs_created_by(session: AsyncSession, *, key_id: str) -> int:
    """How many jobs the key created that are not deleted."""
    result = await session.execute(
        sa.select(sa.func.count())
        .select_from(jobs)
        .where(jobs.c.created_by == key_id, jobs.c.deleted_at.is_(None))
    )
    return int(result.scalar_one())


async def runs_of_jobs_created_by(session: AsyncSession, *, key_id: str, since: datetime) -> int:
    """How many runs (skipped ones aside) the key's jobs started since ``since``."""
    result = await session.execute(
        sa.select(sa.func.count())
        .select_from(runs.join(jobs, runs.c.job_id == jobs.c.id))
        .where(
            jobs.c.created_by == key_id,
            runs.c.started_at >= since,
            runs.c.status != "skipped",
        )
    )
    return int(result.scalar_one())


async def runs_per_day_of_creator(
    conn: AsyncConnection, *, job_id: str, run_id: str, since: datetime
) -> tuple[str, int, int] | None:
    """For a job created by a key with a ``max_runs_per_day``: the key's id, that limit, and
    the runs its jobs started since ``since`` (``run_id``, the run asking, and skipped ones
    aside); None for any other job. A scheduled run's check (the worker's budget check)."""
    creator = (
        await conn.execute(
            sa.select(_KEYS.c.id, _KEYS.c.limits)
            .select_from(jobs.join(_KEYS, jobs.c.created_by == _KEYS.c.id))
            .where(jobs.c.id == job_id)
        )
    ).first()
    most = (creator.limits or {}).get("max_runs_per_day") if creator is not None else None
    if creator is None or not most:
        return None
    started = await conn.execute(
        sa.select(sa.func.count())
        .select_from(runs.join(jobs, runs.c.job_id == jobs.c.id))
        .where(
            jobs.c.created_by == creator.id,
            runs.c.started_at >= since,
            runs.c.status != "skipped",
            runs.c.id != run_id,
        )
    )
    return str(creator.id), int(most), int(started.scalar_one())


async def schedules_of_jobs(
    session: AsyncSession, *, owner: str, job_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The stored schedule of each of ``owner``'s live jobs among ``job_ids`` (a key's
    ``min_interval_seconds`` checked on a chain of them)."""
    result = await session.execute(
        sa.select(jobs.c.id, jobs.c.schedule).where(
            jobs.c.owner == owner, jobs.c.id.in_(job_ids), jobs.c.deleted_at.is_(None)
        )
    )
    return {row.id: row.schedule for row in result}
