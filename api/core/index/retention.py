"""Pruning: rows older than the retention period deleted in bounded batches
(docs/operations.md, "Retention").

Each function deletes at most ``limit`` rows of its table, oldest first, in the caller's
transaction, and answers how many went. What something live still reads is kept whatever its
age: a running run, a job's last run and the runs a next run compares with, a chain's last
run, an open incident.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from api.core.index.db import upsert_insert
from api.core.index.models import (
    audit_events,
    chain_runs,
    deliveries_sent,
    incident_notifications,
    incidents,
    job_events,
    jobs,
    outbox,
    output_embeddings,
    run_hours,
    runs,
)
from api.core.index.stats import OUTCOMES

HOUR_SECONDS = 3600


def _newer(newer: sa.FromClause, row: sa.FromClause, at: str) -> Any:
    """``newer`` is a later row than ``row`` by ``at`` then id (a null ``at`` is never later)."""
    return sa.and_(
        newer.c[at].is_not(None),
        sa.or_(
            newer.c[at] > row.c[at],
            sa.and_(newer.c[at] == row.c[at], newer.c.id > row.c.id),
        ),
    )


def _delivered(table: sa.FromClause) -> Any:
    return sa.func.coalesce(table.c.delivery["status"].as_string(), "") == "delivered"


async def prune_runs(
    conn: AsyncConnection, *, before: datetime, limit: int, keep_delivered: int
) -> int:
    """Delete runs that ended before ``before`` and their stored output embeddings.

    Kept whatever their age: a run still running; its job's latest run (the job page's
    ``last_run``); its job's latest run that was not skipped (a condition's ``last_run``);
    its job's latest ``keep_delivered`` delivered runs (what only-news compares a new output
    with); a run of a chain whose last chain run started before it ended (that chain run's
    nodes); a run being delivered again, or the root of a running chain run (a batch of only
    these is retried by the next tick); a run of a job being deleted (its purge removes it).

    The hourly outcome totals (``run_hours``, kept by triggers on ``runs``) do not lose the
    pruned runs: their outcomes are added back before the delete takes them off, in the same
    transaction, so ``GET /stats`` answers the same before and after.
    """
    r, n = runs.alias("r"), runs.alias("n")
    same_job_newer = sa.and_(n.c.job_id == r.c.job_id, _newer(n, r, "started_at"))
    kept_deliveries = (
        sa.select(n.c.id)
        .where(same_job_newer, _delivered(n))
        .order_by(n.c.started_at.desc(), n.c.id.desc())
        .offset(keep_delivered - 1)
        .limit(1)
    )
    candidates = await conn.execute(
        sa.select(r.c.id, r.c.owner, r.c.status, r.c.completed_at, r.c.duration_seconds)
        .where(
            r.c.completed_at < before,
            r.c.status != "running",
            r.c.started_at.is_not(None),
            # A deleted job's runs go with it when it is purged, in a transaction of its own.
            sa.exists().where(jobs.c.id == r.c.job_id, jobs.c.deleted_at.is_(None)),
            sa.exists().where(same_job_newer),
            sa.or_(
                r.c.status == "skipped",
                sa.exists().where(same_job_newer, n.c.status.not_in(("running", "skipped"))),
            ),
            sa.or_(~_delivered(r), sa.exists(kept_deliveries)),
            sa.or_(
                r.c.chain_id.is_(None),
                sa.exists().where(
                    chain_runs.c.chain_id == r.c.chain_id,
                    chain_runs.c.started_at > r.c.completed_at,
                ),
            ),
        )
        .order_by(r.c.completed_at, r.c.id)
        .limit(limit)
    )
    rows = candidates.all()
    ids = [row.id for row in rows]
    if not ids:
        return 0
    in_use = await conn.execute(
        sa.union(
            sa.select(deliveries_sent.c.run_id).where(deliveries_sent.c.run_id.in_(ids)),
            sa.select(chain_runs.c.root_run_id).where(
                chain_runs.c.status == "running", chain_runs.c.root_run_id.in_(ids)
            ),
        )
    )
    busy = set(in_use.scalars())
    rows = [row for row in rows if row.id not in busy]
    if not rows:
        return 0
    await _keep_hourly_totals(conn, rows)
    ids = [row.id for row in rows]
    await conn.execute(output_embeddings.delete().where(output_embeddings.c.run_id.in_(ids)))
    await conn.execute(runs.delete().where(runs.c.id.in_(ids)))
    return len(ids)


async def _keep_hourly_totals(conn: AsyncConnection, rows: Sequence[Any]) -> None:
    """Add the outcomes of runs about to be deleted (rows with ``owner``, ``status``,
    ``completed_at`` and ``duration_seconds``) to ``run_hours``, as the insert trigger of
    migration ``0005_totals`` does, so the delete trigger's subtraction leaves them as they
    were."""
    finished: Counter[tuple[str, int]] = Counter()
    completed: Counter[tuple[str, int]] = Counter()
    durations: Counter[tuple[str, int]] = Counter()
    duration_sum: dict[tuple[str, int], float] = {}
    for row in rows:
        if row.status not in OUTCOMES or row.completed_at is None:
            continue
        key = (row.owner, int(row.completed_at.timestamp()) // HOUR_SECONDS)
        finished[key] += 1
        completed[key] += row.status == "completed"
        durations[key] += row.duration_seconds is not None
        duration_sum[key] = duration_sum.get(key, 0.0) + (row.duration_seconds or 0.0)
    if not finished:
        return
    insert = upsert_insert(conn)(run_hours)
    totals = ("finished", "completed", "durations", "duration_sum")
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=[run_hours.c.owner, run_hours.c.hour],
            set_={name: run_hours.c[name] + insert.excluded[name] for name in totals},
        ),
        [
            {
                "owner": owner,
                "hour": hour,
                "finished": finished[owner, hour],
                "completed": completed[owner, hour],
                "durations": durations[owner, hour],
                "duration_sum": duration_sum[owner, hour],
            }
            for owner, hour in sorted(finished)
        ],
    )


async def _delete_oldest(
    conn: AsyncConnection,
    table: sa.Table,
    *,
    at: str,
    before: datetime,
    limit: int,
    row: sa.FromClause | None = None,
    where: Sequence[Any] = (),
) -> list[Any]:
    """Delete up to ``limit`` rows of ``table`` whose ``at`` is before ``before`` and that
    match ``where``, oldest first; answers their ids. ``row``: the alias ``where`` reads
    ``table`` as (the table itself by default)."""
    row = table if row is None else row
    stale = (
        sa.select(row.c.id)
        .where(row.c[at] < before, *where)
        .order_by(row.c[at], row.c.id)
        .limit(limit)
    )
    ids = list((await conn.execute(stale)).scalars())
    if ids:
        await conn.execute(table.delete().where(table.c.id.in_(ids)))
    return ids


async def prune_job_events(conn: AsyncConnection, *, before: datetime, limit: int) -> int:
    """Delete pauses and resumes from before ``before`` but each job's last one before it,
    which still says what state the job was in from then on (``explain``)."""
    e, n = job_events.alias("e"), job_events.alias("n")
    later = sa.exists().where(n.c.job_id == e.c.job_id, n.c.at < before, _newer(n, e, "at"))
    found = await _delete_oldest(
        conn, job_events, at="at", before=before, limit=limit, row=e, where=[later]
    )
    return len(found)


async def prune_audit_events(conn: AsyncConnection, *, before: datetime, limit: int) -> int:
    """Delete audit events from before ``before`` (their own period: docs/api.md, "Audit
    log")."""
    return len(await _delete_oldest(conn, audit_events, at="at", before=before, limit=limit))


async def prune_chain_runs(conn: AsyncConnection, *, before: datetime, limit: int) -> int:
    """Delete chain runs that ended before ``before``, but each chain's latest (the chain
    page's nodes) and any still running."""
    c, n = chain_runs.alias("c"), chain_runs.alias("n")
    later = sa.exists().where(n.c.chain_id == c.c.chain_id, _newer(n, c, "started_at"))
    found = await _delete_oldest(
        conn,
        chain_runs,
        at="completed_at",
        before=before,
        limit=limit,
        row=c,
        where=[c.c.status != "running", later],
    )
    return len(found)


async def prune_outbox(conn: AsyncConnection, *, before: datetime, limit: int) -> int:
    """Delete messages the outbox kept before ``before``."""
    found = await _delete_oldest(conn, outbox, at="created_at", before=before, limit=limit)
    return len(found)


async def prune_incidents(
    conn: AsyncConnection, *, before: datetime, limit: int
) -> tuple[int, int]:
    """Delete incidents resolved before ``before`` whose notifications are all settled, and
    those notifications; an open incident is never deleted. Answers ``(incidents,
    notifications)`` deleted."""
    pending = sa.exists().where(
        incident_notifications.c.incident_id == incidents.c.id,
        incident_notifications.c.status == "pending",
    )
    ids = await _delete_oldest(
        conn,
        incidents,
        at="resolved_at",
        before=before,
        limit=limit,
        where=[incidents.c.status == "resolved", incidents.c.open_key.is_(None), ~pending],
    )
    if not ids:
        return 0, 0
    notifications = await conn.execute(
        incident_notifications.delete().where(incident_notifications.c.incident_id.in_(ids))
    )
    return len(ids), int(notifications.rowcount)
