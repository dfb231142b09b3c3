"""The tick's part in incidents: what only a clock can see (docs/alerts.md).

Each tick, in one transaction per step:

- ``missed``: a fire of an active job that should have started ``grace_seconds`` (plus its
  jitter) ago has no run in the index, and no run of the job was in progress then (an overlap
  skip is the job's own policy). Fires are looked for since the previous tick (the first tick
  after an outage looks back over all of it), never before the job's last change;
- ``late``: a ``deadline`` passed with no run of the job completed that local day since
  midnight, or a run has been running longer than ``max_run_seconds``;
- ``paused`` incidents of jobs that are active again (resumed by their owner, a budget window
  rolled over) resolve; incidents of deleted jobs resolve without a notice;
- reminders that are due are queued;
- every queued notification no sender holds is sent.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from activities.incidents import IncidentNotifier
from activities.tick.scope import TickScope, log
from api.core import metrics
from api.core.index import incidents as index_incidents
from api.core.index.models import runs
from api.core.schedules import parse_schedule, scheduled_run_id
from domain.alerts import DEFAULT_GRACE_SECONDS, last_deadline
from domain.schedules import next_fire_times

# How far back a tick looks for missed fires at most, and how many fires per job.
LOOK_BACK = timedelta(days=1)
MAX_FIRES = 500


async def watch(
    tick: TickScope,
    live: dict[str, Any],
    last_tick: datetime | None,
    notifier: IncidentNotifier,
) -> Counter[str]:
    """Open, resolve and remind as the clock says; send what is queued. Answers counts."""
    counts: Counter[str] = Counter()
    now = tick.now
    async with tick.engine.begin() as conn:
        open_rows = await index_incidents.open_incidents_all(conn)
        for row in open_rows:
            job = live.get(row.job_id)
            if job is None:
                await index_incidents.resolve_incidents(
                    conn,
                    job_id=row.job_id,
                    kinds=(row.kind,),
                    reason="the job was deleted",
                    at=now,
                    notify=False,
                )
            elif row.kind == "paused" and job.status == "active":
                counts["resolved"] += len(
                    await index_incidents.resolve_incidents(
                        conn,
                        job_id=row.job_id,
                        kinds=("paused",),
                        reason="the job was resumed",
                        at=now,
                    )
                )
            elif row.kind == "missed" and (ran := await _fired_since(conn, row)) is not None:
                # The recorder resolves it as the next fire's run ends; this catches a run that
                # ended while the incident was being opened.
                counts["resolved"] += len(
                    await index_incidents.resolve_incidents(
                        conn,
                        job_id=row.job_id,
                        kinds=("missed",),
                        reason=f"the next fire ran ({ran})",
                        at=now,
                    )
                )
    async with tick.engine.begin() as conn:
        counts["opened"] += await _missed(conn, tick, live, last_tick)
        counts["opened"] += await _late(conn, tick, live)
        counts["reminded"] += len(await index_incidents.remind_due(conn, now=now))
    counts["sent"] += await notifier.send_pending()
    counts = +counts
    if counts:
        log.info("tick incidents: %s", dict(counts))
    return counts


async def _fired_since(conn: Any, incident: Any) -> str | None:
    """A finished scheduled run of the incident's job for a fire after the one it is about."""
    if incident.fire_at is None:
        return None
    row = (
        await conn.execute(
            sa.select(runs.c.id)
            .where(
                runs.c.job_id == incident.job_id,
                runs.c.trigger == "schedule",
                runs.c.scheduled_at > incident.fire_at,
                runs.c.status.not_in(("running", "skipped")),
            )
            .limit(1)
        )
    ).first()
    return None if row is None else str(row.id)


async def _missed(
    conn: Any, tick: TickScope, live: dict[str, Any], last_tick: datetime | None
) -> int:
    now = tick.now
    windows: dict[str, tuple[datetime, datetime]] = {}
    for job in live.values():
        if job.status != "active":
            continue
        grace = timedelta(seconds=(job.grace_seconds or DEFAULT_GRACE_SECONDS))
        late_by = grace + timedelta(seconds=job.jitter_seconds or 0)
        until = now - late_by
        since = max(
            (last_tick - late_by) if last_tick else until - timedelta(minutes=1),
            job.created_at,
            job.updated_at,
            now - LOOK_BACK,
        )
        if since < until:
            windows[job.id] = (since, until)
    if not windows:
        return 0
    earliest = min(since for since, _ in windows.values())
    rows = await conn.execute(
        sa.select(runs.c.id, runs.c.job_id, runs.c.started_at, runs.c.completed_at).where(
            runs.c.job_id.in_(list(windows)),
            sa.or_(runs.c.completed_at.is_(None), runs.c.completed_at >= earliest),
        )
    )
    ran: set[str] = set()
    spans: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for row in rows:
        ran.add(row.id)
        if row.started_at is not None:
            spans.setdefault(row.job_id, []).append((row.started_at, row.completed_at))
    opened = 0
    for job_id, (since, until) in windows.items():
        job = live[job_id]
        try:
            schedule = parse_schedule(job.schedule)
        except (ValueError, KeyError):
            continue
        fires = [
            fire
            for fire in next_fire_times(schedule, after=since, count=MAX_FIRES)
            if fire <= until
        ]
        missed = [
            fire
            for fire in fires
            if scheduled_run_id(job.id, fire) not in ran
            and not any(
                start <= fire and (end is None or end > fire)
                for start, end in spans.get(job.id, [])
            )
        ]
        if not missed:
            continue
        # Each fire is in one tick's window only, so each is counted once.
        metrics.MISSED_FIRES.inc(len(missed))
        first = missed[0]
        alerts = await index_incidents.alerts_of(conn, job)
        seconds = job.grace_seconds or DEFAULT_GRACE_SECONDS
        more = f" ({len(missed)} fires missed)" if len(missed) > 1 else ""
        incident = await index_incidents.open_incident(
            conn,
            job=job,
            kind="missed",
            reason=f"the fire due at {first.isoformat()} did not start within {seconds} s{more}",
            at=now,
            alerts=alerts,
            details={
                "scheduled_at": first.isoformat(),
                "missed": [fire.isoformat() for fire in missed[:20]],
                "grace_seconds": seconds,
            },
            fire_at=first,
        )
        opened += incident is not None
    return opened


async def _late(conn: Any, tick: TickScope, live: dict[str, Any]) -> int:
    now = tick.now
    opened = 0
    for job in live.values():
        if job.status != "active":
            continue
        if job.deadline:
            opened += await _past_deadline(conn, job, now)
        if job.max_run_seconds:
            opened += await _running_long(conn, job, now)
    return opened


async def _past_deadline(conn: Any, job: Any, now: datetime) -> int:
    zone = ZoneInfo(job.timezone)
    due = last_deadline(job.deadline, zone, now)
    if due is None or due <= job.created_at or due < now - LOOK_BACK:
        return 0
    known = await conn.execute(
        sa.select(sa.literal(1))
        .select_from(index_incidents.incidents)
        .where(
            index_incidents.incidents.c.job_id == job.id,
            index_incidents.incidents.c.kind == "late",
            index_incidents.incidents.c.fire_at == due,
        )
    )
    if known.first() is not None:
        return 0
    day_start = due.replace(hour=0, minute=0)
    completed = await conn.execute(
        sa.select(sa.literal(1)).where(
            sa.exists().where(
                runs.c.job_id == job.id,
                runs.c.status == "completed",
                runs.c.completed_at >= day_start,
                runs.c.completed_at <= due,
            )
        )
    )
    if completed.first() is not None:
        return 0
    return await _open_late(
        conn,
        job,
        now,
        f"no run completed by the deadline {due.isoformat()}",
        {"deadline": due.isoformat(), **job.deadline},
        fire_at=due,
    )


async def _running_long(conn: Any, job: Any, now: datetime) -> int:
    limit = timedelta(seconds=job.max_run_seconds)
    row = (
        await conn.execute(
            sa.select(runs.c.id, runs.c.started_at)
            .where(
                runs.c.job_id == job.id,
                runs.c.status == "running",
                runs.c.started_at <= now - limit,
            )
            .order_by(runs.c.started_at)
            .limit(1)
        )
    ).first()
    if row is None:
        return 0
    return await _open_late(
        conn,
        job,
        now,
        f"run {row.id} has been running for more than {job.max_run_seconds} s",
        {"run_id": row.id, "max_run_seconds": job.max_run_seconds},
    )


async def _open_late(
    conn: Any,
    job: Any,
    now: datetime,
    reason: str,
    details: dict[str, Any],
    fire_at: datetime | None = None,
) -> int:
    """Open the job's ``late`` incident under its alerts; 1 if this opened it, else 0."""
    alerts = await index_incidents.alerts_of(conn, job)
    incident = await index_incidents.open_incident(
        conn,
        job=job,
        kind="late",
        reason=reason,
        at=now,
        alerts=alerts,
        details=details,
        fire_at=fire_at,
    )
    return int(incident is not None)
