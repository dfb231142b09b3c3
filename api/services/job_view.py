"""The public view of a job: an index row (a ``Job`` or a row of the ``jobs`` table) turned
into ``JobPublic``, with what is computed rather than stored (next fire, DST warnings, the
schedule in words, the Temporal Web UI link)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from api.core.index.models import Job
from api.core.schedules import parse_schedule
from api.core.settings import Settings
from api.schemas.jobs import JobPublic
from api.schemas.time import schedule_warnings
from domain.alerts import DEFAULT_GRACE_SECONDS
from domain.nl.describe import describe
from domain.schedules import AtSchedule, CronSchedule, EverySchedule, next_fire_time

# What JobPublic shows as stored; the others are computed by ``public_job``.
_STORED_PUBLIC_FIELDS = JobPublic.model_fields.keys() - {
    "catchup_window_seconds",
    "next_run_at",
    "last_run_at",
    "schedule_warnings",
    "temporal_ui_url",
    "schedule_description",
    "fallback_agent_ids",
    "grace_seconds",
    "open_incidents",
}

# How far ahead a job's ``schedule_warnings`` look: a year, so every DST change is in it.
WARNINGS_AHEAD = timedelta(days=366)


def public_job(
    job: Job | sa.Row[Any],
    *,
    settings: Settings,
    now: datetime,
    open_incidents: list[Any] | None = None,
) -> JobPublic:
    """The API view of a job (a model, or a row of the ``jobs`` table) at ``now``, with its
    open incidents (rows with ``id``, ``kind``, ``opened_at``)."""
    stored = job._mapping if isinstance(job, sa.Row) else job.model_dump()
    zone = ZoneInfo(stored["timezone"])
    data: dict[str, Any] = {name: stored[name] for name in _STORED_PUBLIC_FIELDS}
    own_window = stored["catchup_window_seconds"]
    data["catchup_window_seconds"] = (
        own_window if own_window is not None else settings.catchup_window_seconds
    )
    data["next_run_at"] = next_run_at(stored, zone, now)
    schedule = _parsed(stored["schedule"])  # once, for the warnings and the words
    data["schedule_warnings"] = (
        schedule_warnings(schedule, start=now, end=now + WARNINGS_AHEAD)
        if isinstance(schedule, CronSchedule)
        else []
    )
    data["schedule_description"] = (
        describe(schedule)
        if schedule is not None
        # A stored form the parser no longer takes is shown as its raw fields.
        else ", ".join(f"{key} {value}" for key, value in stored["schedule"].items())
    )
    data["fallback_agent_ids"] = stored["fallback_agent_ids"] or []
    last_run_at = stored["last_run_at"]
    data["last_run_at"] = last_run_at.astimezone(zone) if last_run_at else None
    reopens = stored["budget_reopens_at"]
    data["budget_reopens_at"] = reopens.astimezone(zone) if reopens else None
    data["temporal_ui_url"] = (
        f"{settings.temporal_ui_url.rstrip('/')}/namespaces/"
        f"{settings.temporal_namespace}/schedules/{stored['id']}"
    )
    data["alerts_from"] = stored.get("alerts_from") or "owner"
    if data["alerts_from"] != "job":
        data["alerts"] = None
    grace = stored.get("grace_seconds")
    data["grace_seconds"] = grace if grace is not None else DEFAULT_GRACE_SECONDS
    data["open_incidents"] = [
        {"id": row.id, "kind": row.kind, "opened_at": row.opened_at.astimezone(zone)}
        for row in open_incidents or []
    ]
    return JobPublic.model_validate(data)


def next_fire(status: str, schedule: dict[str, Any], now: datetime) -> datetime | None:
    """A job's next fire computed from its schedule (None when paused or finished)."""
    if status != "active":
        return None
    return next_fire_time(parse_schedule(schedule), after=now)


def next_run_at(job: Mapping[Any, Any], zone: ZoneInfo, now: datetime) -> datetime | None:
    """When Temporal fires the job next, in the job's zone (None if it will not).

    The stored ``next_run_at`` is used while it is still ahead: no fire has happened since it
    was computed, so it is still the next one (every edit and every tick re-computes it).
    """
    stored: datetime | None = job["next_run_at"]
    if job["status"] == "active" and stored is not None and stored > now:
        return stored.astimezone(zone)
    return next_fire(job["status"], job["schedule"], now)


def _parsed(schedule: dict[str, Any]) -> CronSchedule | EverySchedule | AtSchedule | None:
    """The stored schedule as its model; None for a form the parser no longer takes, so a
    read never fails on it."""
    try:
        return parse_schedule(schedule)
    except (ValueError, KeyError):
        return None
