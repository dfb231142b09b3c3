"""Schedules given as JSON by users (or an LLM), checked as a job's schedule would be."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from api.core.schedules import parse_schedule
from domain.schedules import AtSchedule, check_at_in_future

FIELD_OF: dict[str, str] = {"cron": "expression", "every": "interval", "at": "datetime"}


def schedule_error(error: ValidationError) -> str:
    """The user-facing text of a schedule that failed validation."""
    messages = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in item["loc"] if part not in FIELD_OF)
        if item["type"] != "value_error" and field:
            message = f"{field}: {message}"
        messages.append(message)
    return "; ".join(messages)


def check_schedule(raw: dict[str, Any], *, now: datetime) -> Any:
    """A schedule from its JSON form, refused (ValueError) if invalid or an ``at`` in the past."""
    try:
        schedule = parse_schedule(raw)
    except ValidationError as error:
        raise ValueError(schedule_error(error)) from None
    if isinstance(schedule, AtSchedule):
        check_at_in_future(schedule, now)
    return schedule
