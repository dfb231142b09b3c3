"""Models of the time routes (SPEC §9, §11): validate, parse-nl, calendar-data."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from domain.inputs import Text
from domain.schedules import Schedule
from domain.timezones import TimezoneName


class Validation(BaseModel):
    """A schedule checked by the evaluator: its next fires, or why it is refused."""

    valid: bool
    next_runs: list[datetime] | None = Field(
        None, description="Nominal fire times; a run starts up to jitter_seconds later."
    )
    error: str | None = None
    jitter_seconds: int = Field(0, description="The jitter asked for (0: none).")


class ParseRequest(BaseModel):
    """Text to read as a schedule, and the zone to assume when it names none."""

    text: Text = Field(min_length=1, max_length=500)
    timezone: TimezoneName = "UTC"


class ParsedSchedule(BaseModel):
    """A schedule read from text; always one the evaluator and Temporal accept."""

    schedule: Schedule
    human_readable: str
    confidence: float = Field(ge=0, le=1)
    parse_method: Literal["regex", "llm"]


class CalendarEvent(BaseModel):
    """One planned fire or one run of a job."""

    job_id: str
    job_name: str
    time: datetime
    kind: Literal["planned", "run"]
    status: str
    run_id: str | None = None
    jitter_seconds: int = Field(
        0, description="A planned fire's time is nominal: its run starts up to this much later."
    )
    trigger: str | None = Field(None, description="What started a run (`schedule`, `backfill`, …).")


class CalendarData(BaseModel):
    """Every planned fire and run of the caller's jobs in a range, in time order."""

    start: datetime
    end: datetime
    timezone: str
    events: list[CalendarEvent]
    truncated: bool = Field(
        description="True when planned fires were cut at the per-job or total limit."
    )
