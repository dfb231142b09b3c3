"""``next_run_at_refreshed``: a stored ``next_run_at`` that is no longer the next fire is
computed again. Every fire makes one stale, so this is upkeep, not drift: it is counted apart
from the repairs."""

from __future__ import annotations

from typing import Any

from activities.tick.scope import TickScope
from api.core.index import jobs as index_jobs
from api.core.schedules import parse_schedule
from domain.schedules import next_fire_time


async def refresh_next_runs(tick: TickScope, live: dict[str, Any]) -> int:
    """Bring stored next fires up to date; answers how many changed."""
    changed: list[dict[str, Any]] = []
    for row in live.values():
        expected = None
        if row.status == "active":
            try:
                expected = next_fire_time(parse_schedule(row.schedule), after=tick.now)
            except ValueError:
                continue
        if expected != row.next_run_at:
            changed.append({"job_id": row.id, "seen": row.updated_at, "next": expected})
    if not changed:
        return 0
    refreshed = 0
    async with tick.engine.begin() as conn:
        for change in changed:
            # Only if the API did not change the job meanwhile.
            refreshed += await index_jobs.refresh_next_run(
                conn, job_id=change["job_id"], seen=change["seen"], next_run_at=change["next"]
            )
    return refreshed
