"""Creating, rotating, listing and revoking an owner's keys, for the API and the CLI alike
(docs/api.md, "Keys and scopes")."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import NotFound
from api.core.index import audit as audit_store
from api.core.index import keys as store
from api.core.index.audit import Actor
from api.core.index.models import ApiKey
from api.schemas.keys import KeyCreate, KeyCreated, KeyPublic, KeysPublic
from api.services.access import Caller, KeyLimits
from domain.ids import new_id
from domain.limits import storable_text


def public_key(row: ApiKey) -> KeyPublic:
    """The API view of a key."""
    return KeyPublic(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scope=row.scope,
        limits=KeyLimits.model_validate(row.limits) if row.limits else None,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


async def create(
    session: AsyncSession, *, owner: str, body: KeyCreate, now: datetime, actor: Actor
) -> tuple[ApiKey, str]:
    """A new key of ``owner`` and its secret. With ``replaces``: the owner's key it rotates
    keeps working ``overlap`` seconds more, then expires; the new key takes its name, scope
    and limits unless the body gives its own."""
    old = None
    if body.replaces is not None:
        old = await store.get_key(session, key_id=body.replaces, owner=owner)
        if old is None or old.revoked_at is not None:
            raise NotFound(f"Key {body.replaces} not found (or revoked)")
    scope = body.scope or (old.scope if old is not None else "write")
    limits = body.limits.stored() if body.limits is not None else (old.limits if old else None)
    name = body.name if body.name is not None else (old.name if old else None)
    key_id = new_id("key")
    changes = {"scope": scope, "replaces": body.replaces}
    await audit_store.add_event(
        session, owner=owner, action="key.create", actor=actor, target_id=key_id, changes=changes
    )
    row, plaintext = await store.create_key(
        session,
        key_id=key_id,
        owner=owner,
        name=storable_text(name)[0] if name is not None else None,
        scope=scope,
        limits=limits,
        expires_at=now + timedelta(seconds=body.expires_in) if body.expires_in else None,
    )
    if old is not None:
        await store.expire_key(session, row=old, at=now + timedelta(seconds=body.overlap))
    return row, plaintext


def created(row: ApiKey, plaintext: str) -> KeyCreated:
    """The answer to a create: the key and its secret."""
    return KeyCreated(**public_key(row).model_dump(), key=plaintext)


async def list_page(session: AsyncSession, *, owner: str) -> KeysPublic:
    """Every key of ``owner``, newest first (revoked and expired ones too)."""
    rows = await store.list_keys(session, owner=owner)
    return KeysPublic(keys=[public_key(row) for row in rows], count=len(rows))


async def current(session: AsyncSession, *, caller: Caller) -> KeyPublic:
    """The caller's own key."""
    row = await store.get_key(session, key_id=caller.key_id, owner=caller.owner)
    if row is None:
        raise NotFound(f"Key {caller.key_id} not found")
    return public_key(row)


async def revoke(session: AsyncSession, *, owner: str, key_id: str, actor: Actor) -> None:
    """Revoke one of ``owner``'s keys at once; 404 for another's or an unknown one. The audit
    event is committed with the revocation (and dropped, uncommitted, when nothing changed)."""
    await audit_store.add_event(
        session, owner=owner, action="key.revoke", actor=actor, target_id=key_id
    )
    if not await store.revoke_key(session, key_id=key_id, owner=owner):
        raise NotFound(f"Key {key_id} not found")
