"""Time operations over the one schedule evaluator: validate, calendar data, parse-nl."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import Invalid
from api.core.index import jobs as index_jobs
from api.core.index import runs as index_runs
from api.core.settings import Settings
from api.schemas.time import (
    CalendarData,
    CalendarEvent,
    CalendarWarning,
    ParsedSchedule,
    ScheduleWarning,
    Validation,
    schedule_warnings,
)
from api.services.llm import LLM_THRESHOLD, schedule_from_llm
from api.services.planned import PlannedFires
from api.services.schedule_input import FIELD_OF, check_schedule
from domain.dst import at_warnings
from domain.inputs import check_instant
from domain.nl import NotASchedule, describe, parse_text
from domain.schedules import AtSchedule, check_jitter, next_fire_times
from domain.timezones import load_timezone

ScheduleType = Literal["cron", "every", "at"]

MAX_CALENDAR_DAYS = 92
# Planned fires shown per job and in all; an every-second job would otherwise fill millions.
PLANNED_PER_JOB = 2_000
PLANNED_TOTAL = 20_000


def validate(
    kind: ScheduleType,
    value: str,
    timezone: str,
    count: int,
    *,
    now: datetime,
    jitter_seconds: int = 0,
) -> Validation:
    """The next ``count`` (nominal) fires of a schedule given as query values, or why it is
    refused; a jitter is checked against the schedule's spacing and echoed."""
    raw = {"type": kind, FIELD_OF[kind]: value, "timezone": timezone}
    return validate_schedule(raw, count, now=now, jitter_seconds=jitter_seconds)


def validate_schedule(
    raw: dict[str, Any], count: int, *, now: datetime, jitter_seconds: int = 0
) -> Validation:
    """The next ``count`` (nominal) fires of a whole schedule object, its DST warnings and its
    description, or why it is refused (``POST /validate``, and the GET form's values)."""
    try:
        schedule = check_schedule(raw, now=now)
    except ValueError as error:
        return Validation(valid=False, error=str(error), jitter_seconds=jitter_seconds)
    try:
        check_jitter(schedule, jitter_seconds, now=now)
    except ValueError as error:
        return Validation(
            valid=False, error=f"jitter_seconds {error}", jitter_seconds=jitter_seconds
        )
    fires = next_fire_times(schedule, after=now, count=count)
    warnings = schedule_warnings(schedule, start=now, end=fires[-1]) if fires else []
    if isinstance(schedule, AtSchedule):
        value = raw.get("datetime")
        try:
            written = datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
        except ValueError:  # a form pydantic reads and Python's parser does not: no wall time
            written = None
        if written is not None and written.tzinfo is None:
            zone = load_timezone(schedule.timezone)
            warnings = [ScheduleWarning.of(w, zone) for w in at_warnings(written, schedule)]
    return Validation(
        valid=True,
        next_runs=fires,
        warnings=warnings,
        jitter_seconds=jitter_seconds,
        description=describe(schedule),
    )


async def parse_nl(
    text: str, timezone: str, settings: Settings, *, now: datetime
) -> ParsedSchedule:
    """Read a schedule from text: rules first, the configured LLM below their confidence."""
    llm_configured = bool(settings.llm_base_url and settings.llm_model)
    try:
        parsed = parse_text(text, timezone=timezone, now=now)
    except NotASchedule as refusal:
        if not llm_configured:
            raise Invalid.field(
                "text", f"{refusal} (no LLM is configured to read what the rules cannot)"
            ) from None
        return await schedule_from_llm(text, timezone, settings, now=now)
    if parsed.confidence < LLM_THRESHOLD and llm_configured:
        return await schedule_from_llm(text, timezone, settings, now=now)
    return ParsedSchedule(
        schedule=parsed.schedule,
        human_readable=parsed.human_readable,
        confidence=parsed.confidence,
        parse_method="regex",
        warnings=parsed.warnings,
    )


def _aware(value: datetime, zone: str) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=load_timezone(zone))


async def calendar(
    session: AsyncSession,
    *,
    owner: str,
    start: datetime,
    end: datetime,
    timezone: str,
    now: datetime,
    planned: PlannedFires,
) -> CalendarData:
    """Planned fires (from the evaluator, from now on; kept by ``planned``) and runs of the
    owner's jobs in a range."""
    zone = load_timezone(timezone)
    start, end = _aware(start, timezone), _aware(end, timezone)
    for field, value in (("start", start), ("end", end)):
        try:
            check_instant(value)
        except ValueError as error:
            raise Invalid.field(field, str(error)) from None
    if end <= start:
        raise Invalid.field("end", "must be after start")
    if end - start > timedelta(days=MAX_CALENDAR_DAYS):
        raise Invalid.field("end", f"the range may span at most {MAX_CALENDAR_DAYS} days")

    events: list[CalendarEvent] = []
    warnings: list[CalendarWarning] = []
    truncated = False
    after = max(start - timedelta(microseconds=1), now)
    # A range already past plans nothing: its jobs are not read.
    jobs = await index_jobs.active_schedules(session, owner=owner) if after < end else []
    for job in jobs:
        room = min(PLANNED_PER_JOB, PLANNED_TOTAL - len(events))
        # Once the answer is full and said to be cut, a job's fires would change nothing.
        count = 0 if truncated and room == 0 else room + 1
        planned_events, job_warnings = planned.plan(
            job, zone=zone, start=start, end=end, after=after, count=count, cap=PLANNED_PER_JOB
        )
        if len(planned_events) > room:
            planned_events, truncated = planned_events[:room], True
        events.extend(planned_events)
        warnings.extend(job_warnings)
    runs = await index_runs.runs_in_range(session, owner=owner, start=start, end=end)
    events.extend(
        CalendarEvent(
            job_id=row.job_id,
            job_name=row.name,
            time=row.started_at.astimezone(zone),
            kind="run",
            status=row.status,
            run_id=row.id,
            trigger=row.trigger,
        )
        for row in runs
    )
    events.sort(key=lambda event: (event.time, event.kind, event.job_id))
    return CalendarData(
        start=start.astimezone(zone),
        end=end.astimezone(zone),
        timezone=timezone,
        events=events,
        warnings=sorted(warnings, key=lambda w: (w.at, w.job_id)),
        truncated=truncated,
    )
