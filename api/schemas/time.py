"""Models of the time routes (docs/api.md, "Schedules and time"): validate, parse-nl,
calendar-data."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from domain.dst import DstWarning, dst_warnings
from domain.inputs import JsonInt, Text
from domain.schedules import MAX_JITTER_SECONDS, AtSchedule, CronSchedule, EverySchedule, Schedule
from domain.timezones import TimezoneName, load_timezone


class ScheduleWarning(BaseModel):
    """A wall time the schedule names that Temporal skips, shifts or fires twice (DST)."""

    at: str = Field(
        description="The wall time the expression names, in its zone: `YYYY-MM-DDTHH:MM`.",
        examples=["2027-03-14T02:30"],
    )
    kind: Literal["skipped", "shifted", "fires_twice", "fires_once"] = Field(
        description=(
            "`skipped`: Temporal does not fire it that day; `shifted`: it fires at another "
            "time; `fires_twice`: it fires twice; `fires_once`: a repeated wall time fires "
            "once, at its second occurrence."
        )
    )
    message: str
    fires_at: list[datetime] = Field(
        description="When Temporal fires for it (empty when skipped), in the schedule's zone."
    )

    @classmethod
    def of(cls, warning: DstWarning, zone: ZoneInfo) -> ScheduleWarning:
        """The answer form of an evaluator warning."""
        return cls(
            at=warning.at.isoformat(timespec="minutes"),
            kind=warning.kind,
            message=warning.message,
            fires_at=[instant.astimezone(zone) for instant in warning.fires_at],
        )


def schedule_warnings(
    schedule: CronSchedule | EverySchedule | AtSchedule, *, start: datetime, end: datetime
) -> list[ScheduleWarning]:
    """The DST warnings of a schedule's fires after ``start``, up to ``end``."""
    zone = load_timezone(schedule.timezone)
    return [ScheduleWarning.of(w, zone) for w in dst_warnings(schedule, start=start, end=end)]


class Validation(BaseModel):
    """A schedule checked by the evaluator: its next fires, or why it is refused."""

    valid: bool
    next_runs: list[datetime] | None = Field(
        None, description="Nominal fire times; a run starts up to jitter_seconds later."
    )
    warnings: list[ScheduleWarning] | None = Field(
        default=None,
        description="The previewed fires' wall times that a DST change skips, shifts or "
        "doubles (null when invalid).",
    )
    error: str | None = None
    jitter_seconds: int = Field(0, description="The jitter asked for (0: none).")
    description: str | None = Field(
        None,
        description="The schedule in words, as a job's schedule_description says it "
        "(null when invalid).",
    )


class ValidateRequest(BaseModel):
    """Body of ``POST /validate``: a whole schedule, as a job's ``schedule`` is written."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "schedule": {
                        "type": "every",
                        "interval": "2w",
                        "offset": "1d16h",
                        "timezone": "Europe/Berlin",
                    },
                    "count": 3,
                }
            ]
        },
    )

    schedule: dict[str, Any] = Field(
        description="A schedule object (cron, every or at, with offset, exclude, several "
        "expressions); an invalid one answers valid: false."
    )
    count: JsonInt = Field(3, ge=1, le=100, description="How many next fires to answer.")
    jitter_seconds: JsonInt = Field(
        0,
        ge=0,
        le=MAX_JITTER_SECONDS,
        description="A job's jitter: checked against the schedule's spacing and echoed.",
    )


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
    warnings: list[str] = Field(
        default_factory=list,
        description="Readings to confirm with the user: which Friday an ambiguous "
        "'next friday' means, when an every-N-weeks interval starts and that it does not "
        "follow DST.",
    )


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


class CalendarWarning(ScheduleWarning):
    """A DST warning of one job's planned fires."""

    job_id: str
    job_name: str


class CalendarData(BaseModel):
    """Every planned fire and run of the caller's jobs in a range, in time order."""

    start: datetime
    end: datetime
    timezone: str
    events: list[CalendarEvent]
    warnings: list[CalendarWarning] = Field(
        description="Planned fires in the range that a DST change skips, shifts or doubles."
    )
    truncated: bool = Field(
        description="True when planned fires were cut at the per-job or total limit."
    )
