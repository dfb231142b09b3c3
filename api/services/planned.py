"""Each active job's planned fires in a calendar range, kept while its schedule stays the same
(docs/dashboard.md, "How it is built").

The dashboard asks for the same week again and again, and the evaluator's fires of a schedule
in a fixed range never change, so each job's fires from the range's start are worked out once
and kept, keyed by the job and the range, beside the schedule they came from. A request reuses
them when the job's stored schedule is still that one (its JSON text compared whole, so every
change, a skip or a new zone included, is a miss) and keeps those after its own ``after``. The
answer is exactly the evaluator's: a list cut at its cap is only used while it still holds every
fire asked for.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from api.core.schedules import parse_schedule
from api.schemas.time import CalendarEvent, CalendarWarning, schedule_warnings
from domain.schedules import AtSchedule, CronSchedule, EverySchedule, next_fire_times

Schedule = CronSchedule | EverySchedule | AtSchedule

# What is kept in all, the least recently used going first: job ranges (one per job and range,
# each with its parsed schedule, about 1 KB) and fires (about 1.2 KB each with its event). A
# week of 10,000 jobs (the dashboard's view, about 16,000 fires) stays whole twice over; a client
# asking for ever new ranges of dense jobs cannot grow the process by more than about 150 MB.
KEPT_RANGES = 25_000
KEPT_FIRES = 100_000


@dataclass(slots=True)
class _Kept:
    text: str  # the stored schedule (its JSON) the rest came from
    schedule: Schedule
    warned: bool  # whether any fire of the range has a DST warning
    # The first ``cap`` + 1 fires from the range's start at most, once a request asked for a
    # whole job's worth (None before: the asks were small ones, evaluated alone).
    fires: list[datetime] | None = None
    cap: int = 0
    # The events of ``fires`` as last answered, and the (zone, name, jitter) they were made for.
    shown: tuple[str, str, int] | None = None
    events: list[CalendarEvent] = field(default_factory=list)


class PlannedFires:
    """Planned fires by job and range, each checked against the job's current schedule."""

    def __init__(self, ranges: int = KEPT_RANGES, fires: int = KEPT_FIRES) -> None:
        self._kept: OrderedDict[tuple[str, datetime, datetime], _Kept] = OrderedDict()
        self._most_ranges, self._most_fires = ranges, fires
        self._fires = 0  # fires kept in all

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def fires_kept(self) -> int:
        """How many fires are kept in all, counted afresh (what the bound holds down)."""
        return sum(len(kept.fires) for kept in self._kept.values() if kept.fires is not None)

    def plan(
        self,
        job: Any,
        *,
        zone: ZoneInfo,
        start: datetime,
        end: datetime,
        after: datetime,
        count: int,
        cap: int,
    ) -> tuple[list[CalendarEvent], list[CalendarWarning]]:
        """The planned events of ``job`` (a row with ``id``, ``name``, ``schedule`` as its
        stored JSON text, and ``jitter_seconds``), times in ``zone``: its first ``count``
        (≤ ``cap`` + 1) fires strictly after ``after`` (not before ``start``) and before
        ``end``, as ``next_fire_times(schedule, after=after, count=count, before=end)``
        answers; and the DST warnings of its fires from ``after`` to ``end``."""
        kept = self._kept_range(job.id, job.schedule, start=start, end=end)
        if count <= cap and kept.fires is None:
            # A small ask (the answer's total is nearly spent): only what it needs.
            fires = next_fire_times(kept.schedule, after=after, count=count, before=end)
            events = [_event(job, fire, zone) for fire in fires]
        else:
            events = self._kept_events(kept, job, zone, start=start, end=end, cap=cap)
            events = [e for e in events if e.time > after][:count]
            if len(events) < count and kept.fires and len(kept.fires) > kept.cap:
                # The kept list was cut before ``after`` caught up with it: ask the evaluator.
                fires = next_fire_times(kept.schedule, after=after, count=count, before=end)
                events = [_event(job, fire, zone) for fire in fires]
        # A range without a warning has none from any ``after`` within it either.
        warnings = (
            [
                CalendarWarning(job_id=job.id, job_name=job.name, **w.model_dump())
                for w in schedule_warnings(kept.schedule, start=after, end=end)
            ]
            if kept.warned
            else []
        )
        return events, warnings

    def _kept_range(self, job_id: str, text: str, *, start: datetime, end: datetime) -> _Kept:
        key = (job_id, start, end)
        kept = self._kept.get(key)
        if kept is not None and kept.text == text:
            self._kept.move_to_end(key)
            return kept
        schedule = parse_schedule(json.loads(text))
        first = start - timedelta(microseconds=1)
        kept = _Kept(
            text=text,
            schedule=schedule,
            warned=bool(schedule_warnings(schedule, start=first, end=end)),
        )
        self._forget(self._kept.pop(key, None))
        self._kept[key] = kept
        self._evict()
        return kept

    def _kept_events(
        self, kept: _Kept, job: Any, zone: ZoneInfo, *, start: datetime, end: datetime, cap: int
    ) -> list[CalendarEvent]:
        """The events of every kept fire of the range, worked out on the first whole ask."""
        if kept.fires is None or kept.cap < cap:
            self._forget(kept)
            first = start - timedelta(microseconds=1)
            kept.fires = next_fire_times(kept.schedule, after=first, count=cap + 1, before=end)
            kept.cap, kept.shown = cap, None
            self._fires += len(kept.fires)
            self._evict()
        shown = (zone.key, job.name, job.jitter_seconds)
        if kept.shown != shown:
            kept.shown, kept.events = shown, [_event(job, fire, zone) for fire in kept.fires]
        return kept.events

    def _forget(self, kept: _Kept | None) -> None:
        """Take a range's fires off the count, before it goes or is worked out again."""
        if kept is not None and kept.fires is not None:
            self._fires -= len(kept.fires)

    def _evict(self) -> None:
        """Drop the least recently used ranges until both bounds hold (the newest, in use,
        always stays)."""
        while len(self._kept) > 1 and (
            len(self._kept) > self._most_ranges or self._fires > self._most_fires
        ):
            _, oldest = self._kept.popitem(last=False)
            self._forget(oldest)


def _event(job: Any, fire: datetime, zone: ZoneInfo) -> CalendarEvent:
    return CalendarEvent(
        job_id=job.id,
        job_name=job.name,
        time=fire.astimezone(zone),
        kind="planned",
        status="active",
        jitter_seconds=job.jitter_seconds,
    )
