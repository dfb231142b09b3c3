"""Time routes (docs/api.md, "Schedules and time"): validate a schedule, read one from text,
calendar data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import NowDep, OwnerDep, SessionDep, StateDep, Zone
from api.errors import ERROR_RESPONSES
from api.routing import JsonRoute
from api.schemas.time import (
    CalendarData,
    ParsedSchedule,
    ParseRequest,
    ValidateRequest,
    Validation,
)
from api.services import time as time_service
from api.services.insight import zone_of
from domain.inputs import IsoDatetime, Text
from domain.schedules import MAX_JITTER_SECONDS

router = APIRouter(route_class=JsonRoute, tags=["time"], responses=ERROR_RESPONSES)


@router.get("/validate", response_model=Validation)
async def validate(
    _: OwnerDep,
    now: NowDep,
    type_: Annotated[time_service.ScheduleType, Query(alias="type")],
    value: Annotated[Text, Query(min_length=1, max_length=200)],
    timezone: Annotated[Text, Query(description="An IANA time zone name.")] = "UTC",
    count: Annotated[int, Query(ge=1, le=100)] = 3,
    jitter_seconds: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_JITTER_SECONDS,
            description="A job's jitter: checked against the schedule's spacing and echoed.",
        ),
    ] = 0,
) -> Validation:
    """The next `count` fire times, exactly as Temporal will fire them, or why it is invalid.

    A bad expression, interval, datetime or timezone is `{"valid": false, "error": ...}` (200).
    The times are nominal: with a `jitter_seconds`, each run starts up to that much later.
    """
    return time_service.validate(
        type_, value, timezone, count, now=now, jitter_seconds=jitter_seconds
    )


# Reads only (the GET form's answer): a read key may call it (docs/api.md, "Keys and scopes").
@router.post("/validate", response_model=Validation, openapi_extra={"x-scope": "read"})
async def validate_schedule(body: ValidateRequest, _: OwnerDep, now: NowDep) -> Validation:
    """The GET form's answer for a whole schedule object (offset, exclusions, expressions)."""
    return time_service.validate_schedule(
        body.schedule, body.count, now=now, jitter_seconds=body.jitter_seconds
    )


@router.post("/parse-nl", response_model=ParsedSchedule)
async def parse_nl(body: ParseRequest, state: StateDep, _: OwnerDep, now: NowDep) -> ParsedSchedule:
    """Read a schedule from English; below the rules' confidence, ask the configured LLM."""
    return await time_service.parse_nl(body.text, body.timezone, state.settings, now=now)


@router.get("/calendar-data", response_model=CalendarData)
async def calendar_data(
    state: StateDep,
    owner: OwnerDep,
    session: SessionDep,
    now: NowDep,
    start: Annotated[IsoDatetime, Query()],
    end: Annotated[IsoDatetime, Query()],
    timezone: Zone = "UTC",
) -> CalendarData:
    """Planned fires and runs of your jobs from `start` to `end` (at most 92 days).

    A `start`/`end` without an offset is a wall time in `timezone`.
    """
    return await time_service.calendar(
        session,
        owner=owner,
        start=start,
        end=end,
        timezone=zone_of(timezone).key,
        now=now,
        planned=state.planned,
    )
