"""API keys: created once in plaintext, stored as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from api.core.index.models import ApiKey, utcnow
from domain.ids import new_id


def hash_key(plaintext: str) -> str:
    """The stored form of a key. Keys carry 256 random bits, so a plain SHA-256 suffices."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


async def create_key(session: AsyncSession, *, owner: str) -> tuple[ApiKey, str]:
    """Create a key for ``owner``; returns the row and the plaintext (shown only once)."""
    plaintext = "sk_" + secrets.token_urlsafe(32)
    row = ApiKey(id=new_id("key"), owner=owner, prefix=plaintext[:10], key_hash=hash_key(plaintext))
    session.add(row)
    await session.commit()
    return row, plaintext


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, newest first."""
    result = await session.execute(select(ApiKey).order_by(col(ApiKey.created_at).desc()))
    return list(result.scalars())


async def revoke_key(session: AsyncSession, *, key_id: str) -> bool:
    """Revoke a key; False if there is no such key."""
    row = await session.get(ApiKey, key_id)
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.commit()
    return True


# Built once: every authenticated request runs it.
_OWNER_OF_HASH = select(ApiKey.owner).where(
    ApiKey.key_hash == sa.bindparam("key_hash"), col(ApiKey.revoked_at).is_(None)
)


async def owner_of(session: AsyncSession, *, plaintext: str) -> str | None:
    """The owner of a live key, or None for an unknown or revoked one."""
    result = await session.execute(_OWNER_OF_HASH, {"key_hash": hash_key(plaintext)})
    return result.scalar_one_or_none()
