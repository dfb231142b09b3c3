"""``budget_reopened``: a job its budget paused is resumed once the window that paused it has
ended. A job the user paused is never resumed. This is upkeep, not drift: it is counted apart
from the repairs."""

from __future__ import annotations

from typing import Any

from activities.tick.scope import TickScope, log
from api.core.index import audit as index_audit
from api.core.index import jobs as index_jobs
from api.core.schedules import parse_schedule
from api.core.temporal import missing_ok
from domain.schedules import next_fire_time


async def reopen_budget_paused(tick: TickScope, live: dict[str, Any]) -> int:
    """Resume the jobs their budget paused whose window has ended: the row (only if it is
    still as read), then the schedule; answers how many. A schedule left paused by a
    failure here is resynced by a later tick, as any drift."""
    due = [
        row
        for row in live.values()
        if row.status == "paused"
        and row.budget_reopens_at is not None
        and row.budget_reopens_at <= tick.now
    ]
    reopened = 0
    for row in due:
        try:
            following = next_fire_time(parse_schedule(row.schedule), after=tick.now)
        except ValueError:
            following = None
        async with tick.engine.begin() as conn:
            resumed = await index_jobs.reopen_after_budget(
                conn,
                job_id=row.id,
                reopens_at=row.budget_reopens_at,
                at=tick.now,
                next_run_at=following,
            )
            if resumed:
                await index_audit.insert_event(
                    conn,
                    owner=row.owner,
                    action="job.resume",
                    actor=index_audit.SYSTEM_BUDGET,
                    job_id=row.id,
                    changes={"reason": "budget window ended"},
                )
        if not resumed:
            continue
        await missing_ok(
            tick.client.get_schedule_handle(row.id).unpause(
                note=f"budget window ended {row.budget_reopens_at.isoformat()}"
            )
        )
        log.info("job %s resumed: its budget window ended", row.id)
        reopened += 1
    return reopened
