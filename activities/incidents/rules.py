"""When the run recorder opens and resolves incidents: in its own transaction, from what it
already knows (the run's end, the job's failures in a row, its self-pause). docs/alerts.md.

On the path of every run's end, so a run of a job with nothing open and nothing to open costs
no statement: the recorder reads the open kinds of a batch's jobs once (``open_kinds``), and
the alert settings are read only when an incident may open.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from api.core.index import incidents as index_incidents

_FAILED = ("failed", "timed_out")


async def after_run_end(
    conn: AsyncConnection,
    *,
    job: Any,
    open_kinds: set[str],
    run_id: str,
    status: str,
    trigger: str,
    failures: int,
    error: str | None,
    paused_reason: str | None,
    at: datetime,
) -> bool:
    """Open or resolve the job's incidents after one run ended (every attempt spent: the
    recorder sees a run only at its end); answers whether a notification was queued.

    ``job`` is its row (alert columns included), ``open_kinds`` the kinds open for it (kept up to
    date here), ``failures`` its failed runs in a row counting this one, ``paused_reason`` set
    when this end paused the job.
    """
    queued = False
    resolve = set()
    if status == "completed":
        resolve |= {"failing", "late"} & open_kinds
    if trigger == "schedule" and status != "skipped" and "missed" in open_kinds:
        queued |= await _resolve(
            conn, job, open_kinds, {"missed"}, f"the next fire ran ({run_id})", at
        )
    if resolve:
        queued |= await _resolve(conn, job, open_kinds, resolve, f"run {run_id} completed", at)
    failing = status in _FAILED and "failing" not in open_kinds
    paused = paused_reason is not None and "paused" not in open_kinds
    if not (failing or paused):
        return queued
    alerts = await index_incidents.alerts_of(conn, job)
    if failing and failures >= int((alerts or {}).get("after_failures", 1)):
        last = f": {error}" if error else ""
        runs = "the run" if failures == 1 else f"{failures} runs in a row"
        opened = await index_incidents.open_incident(
            conn,
            job=job,
            kind="failing",
            reason=f"{runs} failed after every attempt; the last, {run_id}, "
            f"{status.replace('_', ' ')}{last}"[:2000],
            at=at,
            alerts=alerts,
            details={"run_id": run_id, "consecutive_failures": failures},
        )
        open_kinds.add("failing")
        queued |= opened is not None
    if paused and paused_reason is not None:
        queued |= await job_paused(conn, job=job, reason=paused_reason, at=at, alerts=alerts)
        open_kinds.add("paused")
    return queued


async def _resolve(
    conn: AsyncConnection,
    job: Any,
    open_kinds: set[str],
    kinds: set[str],
    reason: str,
    at: datetime,
) -> bool:
    resolved = await index_incidents.resolve_incidents(
        conn, job_id=job.id, kinds=sorted(kinds), reason=reason, at=at
    )
    open_kinds -= kinds
    return bool(resolved)


async def job_paused(
    conn: AsyncConnection, *, job: Any, reason: str, at: datetime, alerts: dict[str, Any] | None
) -> bool:
    """Open a ``paused`` incident: the job paused itself (failures, budget)."""
    opened = await index_incidents.open_incident(
        conn, job=job, kind="paused", reason=f"paused itself: {reason}", at=at, alerts=alerts
    )
    return opened is not None
