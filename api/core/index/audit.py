"""The audit log's rows (docs/api.md, "Audit log"): written in the transaction of the change
they record, read newest first (pruned in ``api.core.index.retention``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.core import logs
from api.core.index.models import audit_events, utcnow
from domain.limits import storable, storable_text


@dataclass(frozen=True)
class Actor:
    """Who made a change: a key (``kind="key"``, its id and name), a hook (``hook``, its id) or
    the system (``system``: ``tick``, ``budget`` or ``recorder``); ``transport`` is ``rest`` or
    ``mcp`` for a key, None otherwise."""

    kind: str
    id: str
    name: str | None = None
    transport: str | None = None


SYSTEM_RECORDER = Actor("system", "recorder")
"""The run recorder, pausing a job after failed runs."""
SYSTEM_BUDGET = Actor("system", "budget")
"""A budget, pausing a job whose window is used up."""
SYSTEM_CLI = Actor("system", "cli")
"""The server's operator, through ``agent-scheduler keys``."""


def _text(value: str | None, limit: int) -> str | None:
    return None if value is None else storable_text(value)[0][:limit]


def event_values(
    *,
    owner: str,
    action: str,
    actor: Actor,
    job_id: str | None = None,
    target_id: str | None = None,
    changes: dict[str, Any] | None = None,
    request_id: str | None = None,
    idempotency_key: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The column values of one event, its text made storable."""
    return {
        "owner": owner,
        "at": at or utcnow(),
        "action": action,
        "job_id": job_id,
        "target_id": _text(target_id, 80),
        "actor_kind": actor.kind,
        "actor_id": _text(actor.id, 80),
        "actor_name": _text(actor.name, 200),
        "transport": actor.transport,
        "request_id": _text(request_id or logs.bound("request_id"), 80),
        "idempotency_key": _text(idempotency_key, 255),
        "changes": None if changes is None else storable(changes)[0],
    }


async def add_event(session: AsyncSession, **values: Any) -> None:
    """Write an event in the session's open transaction (committed, or rolled back, with the
    change it records). Takes :func:`event_values`' arguments."""
    await session.execute(sa.insert(audit_events).values(**event_values(**values)))


async def insert_event(conn: AsyncConnection, **values: Any) -> None:
    """Write an event in the connection's transaction (the run recorder's, the tick's)."""
    await conn.execute(sa.insert(audit_events).values(**event_values(**values)))


async def list_events(
    session: AsyncSession,
    *,
    owner: str,
    job_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Any], int]:
    """A page of the owner's events, newest first, and how many match in all. ``actor``
    matches an actor's id or its kind (``system``)."""
    t = audit_events
    where: list[Any] = [t.c.owner == owner]
    if job_id is not None:
        where.append(t.c.job_id == job_id)
    if actor is not None:
        where.append(sa.or_(t.c.actor_id == actor, t.c.actor_kind == actor))
    if action is not None:
        where.append(t.c.action == action)
    if since is not None:
        where.append(t.c.at >= since)
    rows = await session.execute(
        sa.select(t)
        .where(*where)
        .order_by(t.c.at.desc(), t.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    count = await session.scalar(sa.select(sa.func.count()).select_from(t).where(*where))
    return list(rows.all()), int(count or 0)


async def forget_event(
    session: AsyncSession, *, action: str, job_id: str | None = None, target_id: str | None = None
) -> None:
    """Remove the events of a change that was undone (no commit: the undo's commit takes it)."""
    t = audit_events
    where = [t.c.action == action]
    if job_id is not None:
        where.append(t.c.job_id == job_id)
    if target_id is not None:
        where.append(t.c.target_id == target_id)
    await session.execute(sa.delete(t).where(*where))


async def has_event(session: AsyncSession, *, action: str, target_id: str) -> bool:
    """Whether ``action`` on ``target_id`` was recorded (a keyed retry's earlier attempt)."""
    t = audit_events
    found = await session.scalar(
        sa.select(t.c.id).where(t.c.action == action, t.c.target_id == target_id).limit(1)
    )
    return found is not None
