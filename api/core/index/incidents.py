"""Queries on ``incidents``, ``incident_notifications`` and ``owner_settings`` (docs/alerts.md).

An incident and the notification it owes are written in one statement group of the caller's
transaction: the transaction that records a failed run, a pause or a missed fire also opens the
incident and queues its "opened" notification, so a crash leaves both or neither. The unique
``open_key`` makes a second opening of the same (job, kind) a no-op, so the notification is
queued once, whoever tries (a recorder, a retried activity, a tick).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from api.core.index.db import upsert_insert
from api.core.index.models import incident_notifications, incidents, owner_settings
from domain.alerts import AlertSettings
from domain.ids import new_id
from domain.limits import storable, storable_text

Bind = AsyncConnection | AsyncSession
_N = incident_notifications


def open_key(job_id: str, kind: str) -> str:
    """The key an open incident of ``job_id`` and ``kind`` holds."""
    return f"{job_id}:{kind}"


# ---------------------------------------------------------------------------------------------
# Owner settings


async def owner_alerts(bind: Bind, *, owner: str) -> dict[str, Any] | None:
    """The owner's default alert settings, or None."""
    row = (
        await bind.execute(
            sa.select(owner_settings.c.alerts).where(owner_settings.c.owner == owner)
        )
    ).first()
    return None if row is None else row.alerts


async def set_owner_alerts(
    bind: Bind, *, owner: str, alerts: dict[str, Any] | None, at: datetime
) -> None:
    """Set (or, with None, remove) the owner's default alert settings."""
    values = {"owner": owner, "alerts": alerts, "updated_at": at}
    await bind.execute(
        upsert_insert(bind)(owner_settings)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[owner_settings.c.owner], set_={"alerts": alerts, "updated_at": at}
        )
    )


async def alerts_of(bind: Bind, job: Any) -> dict[str, Any] | None:
    """The alert settings in effect for a job row: its own, the owner's, or None (off)."""
    source = getattr(job, "alerts_from", None) or "owner"
    if source == "off":
        return None
    if source == "job":
        alerts: dict[str, Any] | None = job.alerts
        return alerts
    return await owner_alerts(bind, owner=job.owner)


# ---------------------------------------------------------------------------------------------
# Opening, resolving, reminding (the worker's transactions, and the API's resume)


async def open_incident(
    bind: Bind,
    *,
    job: Any,
    kind: str,
    reason: str,
    at: datetime,
    alerts: dict[str, Any] | None,
    details: dict[str, Any] | None = None,
    fire_at: datetime | None = None,
) -> str | None:
    """Open an incident of ``kind`` for the job row unless one is open; queue its "opened"
    notification when its alerts notify that kind. Answers the new incident's id, or None."""
    settings = AlertSettings.model_validate(alerts) if alerts else None
    notify = settings is not None and kind in settings.on
    remind = settings.remind_seconds() if settings is not None else None
    incident_id = new_id("inc")
    inserted = await bind.execute(
        upsert_insert(bind)(incidents)
        .values(
            id=incident_id,
            owner=job.owner,
            job_id=job.id,
            job_name=str(job.name)[:200],
            kind=kind,
            status="open",
            open_key=open_key(job.id, kind),
            # A reason quotes a run's error, which may quote an agent or receiver: every text
            # is made storable, as a run's end is (PostgreSQL refuses a NUL).
            reason=storable_text(reason)[0],
            details=storable(details or {})[0],
            fire_at=fire_at,
            opened_at=at,
            alerts=alerts,
            notify=notify,
            reminders=0,
            next_reminder_at=at + timedelta(seconds=remind) if notify and remind else None,
        )
        .on_conflict_do_nothing(index_elements=[incidents.c.open_key])
        .returning(incidents.c.id)
    )
    if inserted.first() is None:
        return None
    if notify and settings is not None:
        await _queue(bind, incident_id, job.owner, "opened", settings.channel, at)
    return incident_id


async def resolve_incidents(
    bind: Bind,
    *,
    job_id: str,
    kinds: Iterable[str],
    reason: str,
    at: datetime,
    notify: bool = True,
) -> list[str]:
    """Resolve the job's open incidents of ``kinds``; queue each recovery notice its alerts
    ask for (unless ``notify`` is False). Answers the ids resolved (a second call finds none
    open: nothing twice)."""
    keys = [open_key(job_id, kind) for kind in kinds]
    rows = (
        await bind.execute(
            incidents.update()
            .where(incidents.c.open_key.in_(keys))
            .values(
                status="resolved",
                open_key=None,
                resolved_at=at,
                resolved_reason=storable_text(reason)[0],
            )
            .returning(incidents.c.id, incidents.c.owner, incidents.c.notify, incidents.c.alerts)
        )
    ).all()
    for row in rows:
        if notify and row.notify and row.alerts and row.alerts.get("recovery", True):
            await _queue(bind, row.id, row.owner, "resolved", row.alerts["channel"], at)
    return [row.id for row in rows]


async def open_kinds(bind: Bind, *, job_ids: Iterable[str]) -> dict[str, set[str]]:
    """The kinds of each job's open incidents (jobs without any are left out)."""
    found: dict[str, set[str]] = {}
    ids = sorted(set(job_ids))
    if not ids:
        return found
    rows = await bind.execute(
        sa.select(incidents.c.job_id, incidents.c.kind).where(
            incidents.c.job_id.in_(ids), incidents.c.status == "open"
        )
    )
    for row in rows:
        found.setdefault(row.job_id, set()).add(row.kind)
    return found


async def open_incidents_all(bind: Bind) -> Sequence[sa.Row[Any]]:
    """Every open incident, of every owner (the tick's view)."""
    return (await bind.execute(sa.select(incidents).where(incidents.c.status == "open"))).all()


async def remind_due(bind: Bind, *, now: datetime) -> list[str]:
    """Queue the reminders that are due: open, notifying, not acknowledged, past their time.

    Each reminder is counted on its incident with a compare-and-set on ``reminders``, so two
    ticks at once queue it once. Answers the notification ids queued.
    """
    rows = (
        await bind.execute(
            sa.select(incidents).where(
                incidents.c.status == "open",
                incidents.c.notify,
                incidents.c.acked_at.is_(None),
                incidents.c.next_reminder_at.is_not(None),
                incidents.c.next_reminder_at <= now,
            )
        )
    ).all()
    queued = []
    for row in rows:
        settings = AlertSettings.model_validate(row.alerts)
        every = settings.remind_seconds()
        number = row.reminders + 1
        changed = await bind.execute(
            incidents.update()
            .where(incidents.c.id == row.id, incidents.c.reminders == row.reminders)
            .values(
                reminders=number,
                next_reminder_at=now + timedelta(seconds=every) if every else None,
            )
            .returning(incidents.c.id)
        )
        if changed.first() is not None:
            queued.append(
                await _queue(bind, row.id, row.owner, f"reminder/{number}", settings.channel, now)
            )
    return queued


async def _queue(
    bind: Bind, incident_id: str, owner: str, event: str, channel: str, at: datetime
) -> str:
    notification_id = f"{incident_id}/{event}"
    await bind.execute(
        upsert_insert(bind)(_N)
        .values(
            id=notification_id,
            incident_id=incident_id,
            owner=owner,
            event=event.partition("/")[0],
            channel=channel,
            status="pending",
            created_at=at,
            attempts=0,
            outbox=False,
        )
        .on_conflict_do_nothing(index_elements=[_N.c.id])
    )
    return notification_id


# ---------------------------------------------------------------------------------------------
# Sending (activities/incidents/): claim, then mark


async def pending_ids(bind: Bind, *, now: datetime, limit: int = 200) -> list[str]:
    """Notifications still to send whose claim (if any) has lapsed, oldest first."""
    rows = await bind.execute(
        sa.select(_N.c.id)
        .where(
            _N.c.status == "pending",
            sa.or_(_N.c.claimed_until.is_(None), _N.c.claimed_until < now),
        )
        .order_by(_N.c.created_at, _N.c.id)
        .limit(limit)
    )
    return [row.id for row in rows]


async def claim(bind: Bind, *, notification_id: str, now: datetime, until: datetime) -> bool:
    """Take the notification to send it, unless sent or held by another sender."""
    result = await bind.execute(
        _N.update()
        .where(
            _N.c.id == notification_id,
            _N.c.status == "pending",
            sa.or_(_N.c.claimed_until.is_(None), _N.c.claimed_until < now),
        )
        .values(claimed_until=until, attempts=_N.c.attempts + 1)
        .returning(_N.c.id)
    )
    return result.first() is not None


async def notification_with_incident(bind: Bind, *, notification_id: str) -> sa.Row[Any] | None:
    """The notification (``n_*`` columns) and its incident's columns."""
    return (
        await bind.execute(
            sa.select(
                _N.c.id.label("n_id"),
                _N.c.event.label("n_event"),
                _N.c.channel.label("n_channel"),
                _N.c.attempts.label("n_attempts"),
                _N.c.created_at.label("n_created_at"),
                incidents,
            )
            .join(incidents, incidents.c.id == _N.c.incident_id)
            .where(_N.c.id == notification_id)
        )
    ).first()


async def mark(
    bind: Bind,
    *,
    notification_id: str,
    status: str,
    at: datetime,
    error: str | None,
    outbox: bool = False,
) -> None:
    """Record how sending went: ``sent``, ``failed`` (given up) or ``pending`` (retry later)."""
    values: dict[str, Any] = {
        "status": status,
        "error": storable_text(error)[0] if error else error,
        "outbox": outbox,
    }
    if status == "sent":
        values["sent_at"] = at
    if status == "pending":
        values["claimed_until"] = None
    await bind.execute(_N.update().where(_N.c.id == notification_id).values(**values))


# ---------------------------------------------------------------------------------------------
# The API's reads and the acknowledgement


async def list_incidents(
    session: AsyncSession,
    *,
    owner: str,
    status: str | None,
    job_id: str | None,
    kind: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[sa.Row[Any]], int]:
    """A page of the owner's incidents, newest first, and how many match."""
    where = [incidents.c.owner == owner]
    if status is not None:
        where.append(incidents.c.status == status)
    if job_id is not None:
        where.append(incidents.c.job_id == job_id)
    if kind is not None:
        where.append(incidents.c.kind == kind)
    rows = (
        await session.execute(
            sa.select(incidents)
            .where(*where)
            .order_by(incidents.c.opened_at.desc(), incidents.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    count = (
        await session.execute(sa.select(sa.func.count()).select_from(incidents).where(*where))
    ).scalar_one()
    return rows, int(count)


async def get_incident(
    session: AsyncSession, *, owner: str, incident_id: str
) -> sa.Row[Any] | None:
    """The owner's incident, or None."""
    return (
        await session.execute(
            sa.select(incidents).where(incidents.c.id == incident_id, incidents.c.owner == owner)
        )
    ).first()


async def notifications_of(
    session: AsyncSession, *, incident_ids: Sequence[str]
) -> dict[str, list[sa.Row[Any]]]:
    """The notifications of each incident, oldest first."""
    found: dict[str, list[sa.Row[Any]]] = {incident_id: [] for incident_id in incident_ids}
    if not incident_ids:
        return found
    rows = await session.execute(
        sa.select(_N).where(_N.c.incident_id.in_(incident_ids)).order_by(_N.c.created_at, _N.c.id)
    )
    for row in rows:
        found[row.incident_id].append(row)
    return found


async def ack(
    session: AsyncSession, *, owner: str, incident_id: str, by: str, at: datetime
) -> None:
    """Acknowledge the incident (once: the first acknowledgement is kept)."""
    await session.execute(
        incidents.update()
        .where(
            incidents.c.id == incident_id,
            incidents.c.owner == owner,
            incidents.c.acked_at.is_(None),
        )
        .values(acked_at=at, acked_by=by, next_reminder_at=None)
    )


async def open_by_job(session: AsyncSession, *, job_ids: Sequence[str]) -> dict[str, list[Any]]:
    """The open incidents of each job, oldest first."""
    found: dict[str, list[Any]] = {}
    if not job_ids:
        return found
    rows = await session.execute(
        sa.select(incidents.c.id, incidents.c.job_id, incidents.c.kind, incidents.c.opened_at)
        .where(incidents.c.job_id.in_(job_ids), incidents.c.status == "open")
        .order_by(incidents.c.opened_at)
    )
    for row in rows:
        found.setdefault(row.job_id, []).append(row)
    return found


async def count_open(session: AsyncSession, *, owner: str) -> int:
    """How many of the owner's incidents are open."""
    count = await session.execute(
        sa.select(sa.func.count())
        .select_from(incidents)
        .where(incidents.c.owner == owner, incidents.c.status == "open")
    )
    return int(count.scalar_one())


async def incident_for_fire(
    session: AsyncSession, *, job_id: str, at: datetime, run_completed_at: datetime | None
) -> sa.Row[Any] | None:
    """The incident a fire of the job belongs to: a missed or late one about that fire, else a
    failing or paused one open when its run ended."""
    about = (
        await session.execute(
            sa.select(incidents)
            .where(incidents.c.job_id == job_id, incidents.c.fire_at == at)
            .order_by(incidents.c.opened_at.desc())
            .limit(1)
        )
    ).first()
    if about is not None or run_completed_at is None:
        return about
    return (
        await session.execute(
            sa.select(incidents)
            .where(
                incidents.c.job_id == job_id,
                incidents.c.kind.in_(("failing", "paused")),
                incidents.c.opened_at <= run_completed_at,
                sa.or_(
                    incidents.c.resolved_at.is_(None),
                    incidents.c.resolved_at >= run_completed_at,
                ),
            )
            .order_by(incidents.c.opened_at.desc())
            .limit(1)
        )
    ).first()


async def delete_job_incidents(bind: Bind, *, job_id: str) -> None:
    """Remove a deleted job's incidents and their notifications."""
    ids = sa.select(incidents.c.id).where(incidents.c.job_id == job_id)
    await bind.execute(_N.delete().where(_N.c.incident_id.in_(ids)))
    await bind.execute(incidents.delete().where(incidents.c.job_id == job_id))
