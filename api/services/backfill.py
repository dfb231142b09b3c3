"""Backfill: a job's past fires in a range that have not run, run through Temporal's schedule
backfill (docs/api.md, ``POST /api/scheduler/jobs/{job_id}/backfill``).

The backfill is recorded in the index before Temporal is asked, and forgotten again if that
fails, so each run it starts is recorded with the trigger ``backfill``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import ScheduleBackfill

from api.core.errors import Conflict, Invalid
from api.core.index import audit as audit_store
from api.core.index import backfills as backfills_store
from api.core.index.models import Backfill, Job
from api.core.schedules import OVERLAP, parse_schedule, scheduled_run_id
from api.core.temporal import TemporalConnection
from api.schemas.jobs import BackfillAccepted, BackfillRequest
from domain.ids import new_id
from domain.inputs import check_instant
from domain.schedules import AtSchedule, next_fire_times

# Fires one backfill may run (Temporal buffers at most 1,000 starts).
MAX_BACKFILL_FIRES = 1_000


async def backfill(
    session: AsyncSession,
    temporal: TemporalConnection,
    job: Job,
    body: BackfillRequest,
    *,
    now: datetime,
    allow: Callable[[int], Awaitable[None]] | None = None,
    audit: Callable[[Backfill], Awaitable[None]] | None = None,
) -> BackfillAccepted:
    """Run the schedule's fires in ``[start, end)`` that have not run, through Temporal's
    schedule backfill: each run carries its nominal time and the trigger ``backfill``.

    ``allow`` is called with the number of runs about to start (a key's limits refuse it by
    raising); ``audit`` with the backfill about to be committed (its audit event, undone with
    it if Temporal refuses it)."""
    schedule = parse_schedule(job.schedule)
    if isinstance(schedule, AtSchedule):
        raise Conflict(f"Job {job.id} is a one-off (at) job; it has no fires to backfill")
    zone = ZoneInfo(job.timezone)
    start, end = _aware(body.start, zone), _aware(body.end, zone)
    for field, value in (("start", start), ("end", end)):
        try:
            check_instant(value)
        except ValueError as exc:
            raise Invalid.field(field, str(exc)) from None
    if end <= start:
        raise Invalid.field("end", "must be after start")
    if end > now:
        raise Invalid.field(
            "end",
            f"a backfill covers past fires only: end must not be after now "
            f"({now.astimezone(zone).isoformat()}); the schedule runs the future ones",
        )
    fires = [
        t
        for t in next_fire_times(
            schedule,
            after=start.astimezone(UTC) - timedelta(microseconds=1),
            count=MAX_BACKFILL_FIRES + 1,
        )
        # As instants: within one zone Python compares a repeated hour by wall time.
        if t.timestamp() < end.timestamp()
    ]
    if len(fires) > MAX_BACKFILL_FIRES:
        raise Invalid.field(
            "end",
            f"the range holds more than {MAX_BACKFILL_FIRES:,} fires of the schedule "
            f"(the {MAX_BACKFILL_FIRES + 1:,}th is {fires[-1].isoformat()}); "
            "backfill a shorter range",
        )
    ran = await backfills_store.recorded_run_ids(
        session, run_ids=(scheduled_run_id(job.id, t) for t in fires)
    )
    todo = [t for t in fires if scheduled_run_id(job.id, t) not in ran]
    if allow is not None:
        await allow(len(todo))
    record = Backfill(
        id=new_id("bf"),
        job_id=job.id,
        owner=job.owner,
        start=start,
        end=end,
        overlap=body.overlap,
        fires=len(todo),
        requested_at=now,
    )
    if todo:
        if audit is not None:
            await audit(record)
        await backfills_store.insert_backfill(session, backfill=record)
        try:
            handle = (await temporal.client()).get_schedule_handle(job.id)
            await handle.backfill(
                *(
                    ScheduleBackfill(
                        # Temporal's range excludes its start and includes its end.
                        start_at=first - timedelta(seconds=1),
                        end_at=last,
                        overlap=OVERLAP[body.overlap],
                    )
                    for first, last in _runs_of(fires, todo)
                )
            )
        except BaseException:
            await audit_store.forget_event(session, action="job.backfill", target_id=record.id)
            await backfills_store.forget_backfill(session, backfill_id=record.id)
            raise
    return BackfillAccepted(
        job_id=job.id,
        backfill_id=record.id,
        start=start.astimezone(zone),
        end=end.astimezone(zone),
        overlap=body.overlap,
        fires=len(todo),
        already_run=len(fires) - len(todo),
        first_fire=todo[0] if todo else None,
        last_fire=todo[-1] if todo else None,
    )


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=zone)


def _runs_of(fires: list[datetime], todo: list[datetime]) -> list[tuple[datetime, datetime]]:
    """The stretches of consecutive fires to run, as (first, last): fires that ran already
    split them, so Temporal never starts one of those again."""
    wanted = {t.timestamp() for t in todo}  # as instants: 01:30 EDT and 01:30 EST differ
    stretches: list[tuple[datetime, datetime]] = []
    first: datetime | None = None
    last: datetime | None = None
    for fire in fires:
        if fire.timestamp() in wanted:
            first = first or fire
            last = fire
        elif first is not None and last is not None:
            stretches.append((first, last))
            first = last = None
    if first is not None and last is not None:
        stretches.append((first, last))
    return stretches
