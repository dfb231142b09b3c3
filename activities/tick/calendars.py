"""``holiday_calendars_extended``: a schedule's holiday exclusions kept years ahead.

Temporal holds a job's holidays (``schedule.exclude.holidays``) as exclude calendars for the
years ``api.core.schedules.holiday_years`` gives when the schedule is built: this year and the
next ``HOLIDAY_YEARS_AHEAD``. Once a day the tick describes each such schedule and rebuilds it
when fewer than ``HOLIDAY_YEARS_LEFT`` years ahead remain, so its exclusions never run out.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from temporalio.client import ScheduleUpdate

from activities.tick.scope import TickScope, log
from api.core.index.models import Job
from api.core.schedules import build_schedule, holidays_covered_until
from api.core.temporal import missing_ok
from domain.calendars import HOLIDAY_YEARS_LEFT
from domain.cron import MAX_YEAR

# Schedules described at once.
DESCRIBED_AT_ONCE = 20


def holidays_due(last_tick: datetime | None, now: datetime) -> bool:
    """Whether this tick checks the holiday calendars: the first tick of each UTC day."""
    return last_tick is None or last_tick.date() != now.date()


async def extend_holidays(tick: TickScope, live: dict[str, Any]) -> int:
    """Rebuild the settled schedules whose holiday exclusions end too soon; answers how many."""
    wanted = min(tick.now.year + HOLIDAY_YEARS_LEFT, MAX_YEAR)
    rows = [
        row
        for row in live.values()
        if row.status in ("active", "paused")
        and row.updated_at <= tick.settled
        and ((row.schedule or {}).get("exclude") or {}).get("holidays")
    ]
    gate = asyncio.Semaphore(DESCRIBED_AT_ONCE)

    async def extend(row: Any) -> bool:
        handle = tick.client.get_schedule_handle(row.id)
        async with gate:
            description = await missing_ok(handle.describe())
        if description is None:
            return False  # the schedule repairs recreate it, with fresh calendars
        covered = holidays_covered_until(description.schedule.spec)
        if covered is not None and covered >= wanted:
            return False
        job = Job.model_validate(dict(row._mapping))
        schedule = build_schedule(
            job,
            task_queue=tick.settings.task_queue,
            default_catchup_window_seconds=tick.settings.catchup_window_seconds,
            now=tick.now,
        )
        await handle.update(lambda _: ScheduleUpdate(schedule=schedule))
        log.info("tick extended the holiday calendars of %s (were to %s)", row.id, covered)
        return True

    return sum(await asyncio.gather(*(extend(row) for row in rows)))
