"""The calendar's kept planned fires (api/services/planned.py) answer exactly what the evaluator
answers when asked directly: for every ``after`` in the range, after a schedule, a name or the
zone asked for changes, and when a kept list was cut at its cap; their DST warnings too."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import pytest

from api.core.schedules import parse_schedule
from api.schemas.time import schedule_warnings
from api.services.planned import PlannedFires
from domain.schedules import next_fire_times

START = datetime(2027, 3, 10, 6, 0, tzinfo=UTC)  # a week over New York's spring-forward
END = START + timedelta(days=7)

SCHEDULES: list[dict[str, Any]] = [
    {"type": "cron", "expression": "30 2 * * *", "timezone": "America/New_York"},
    {
        "type": "cron",
        "expression": ["0 9 * * 1-5", "0 11 * * 6,0"],
        "timezone": "Europe/London",
        "exclude": {"dates": ["2027-03-12"], "holidays": "GB-ENG"},
    },
    {"type": "cron", "expression": "0 18 L * *", "timezone": "Australia/Lord_Howe"},
    {"type": "every", "interval": 5400, "offset": 600, "timezone": "UTC"},
    {
        "type": "every",
        "interval": 3600,
        "timezone": "UTC",
        "start_at": "2027-03-12T00:00:00Z",
        "end_at": "2027-03-14T12:00:00Z",
    },
    {"type": "at", "datetime": "2027-03-15T10:00:00Z", "timezone": "UTC"},
    {"type": "every", "interval": 60, "timezone": "UTC"},  # more fires than the cap below
]
AFTERS = [
    START - timedelta(microseconds=1),
    START + timedelta(hours=1, seconds=1),
    START + timedelta(days=3, minutes=7),
    END - timedelta(seconds=1),
]


TOKYO = ZoneInfo("Asia/Tokyo")


class Row(NamedTuple):
    """A job as the calendar reads it from the index."""

    id: str
    name: str
    schedule: str
    jitter_seconds: int = 0


def row(data: dict[str, Any], *, job_id: str = "job_1", name: str = "report") -> Row:
    return Row(job_id, name, json.dumps(data))


def evaluated(data: dict[str, Any], *, after: datetime, count: int) -> list[datetime]:
    """What the calendar answered before fires were kept: the evaluator's fires, cut at END."""
    schedule = parse_schedule(data)
    return [t for t in next_fire_times(schedule, after=after, count=count) if t < END]


def planned_times(
    planned: PlannedFires,
    job: Row,
    *,
    after: datetime,
    count: int = 50,
    cap: int = 2000,
    start: datetime = START,
    zone: ZoneInfo = TOKYO,
) -> list[datetime]:
    end = start + timedelta(days=7)
    events, _ = planned.plan(
        job, zone=zone, start=start, end=end, after=after, count=count, cap=cap
    )
    assert all(e.job_name == job.name and e.time.tzinfo is zone for e in events)
    return [e.time for e in events]


@pytest.mark.parametrize("data", SCHEDULES, ids=lambda data: str(data.get("expression", "")))
@pytest.mark.parametrize("cap", [3, 2000])
def test_kept_fires_are_the_evaluators_for_every_after(data: dict[str, Any], cap: int) -> None:
    planned = PlannedFires()
    schedule = parse_schedule(data)
    for after in AFTERS * 2:  # the second pass answers from what the first kept
        for count in (1, cap + 1):
            events, warnings = planned.plan(
                row(data), zone=TOKYO, start=START, end=END, after=after, count=count, cap=cap
            )
            assert [e.time for e in events] == evaluated(data, after=after, count=count)
            expected = schedule_warnings(schedule, start=after, end=END)
            assert [w.model_dump() for w in warnings] == [
                {**w.model_dump(), "job_id": "job_1", "job_name": "report"} for w in expected
            ]


def test_the_new_york_week_has_its_spring_forward_warning_until_it_passes() -> None:
    planned = PlannedFires()
    daily = row(SCHEDULES[0])
    spring_forward = datetime(2027, 3, 14, 12, tzinfo=UTC)
    for after, expected in ((START, ["2027-03-14T02:30"]), (spring_forward, [])):
        _, warnings = planned.plan(
            daily, zone=TOKYO, start=START, end=END, after=after, count=10, cap=2000
        )
        assert [w.at for w in warnings] == expected


def test_a_changed_schedule_name_or_zone_is_worked_out_again() -> None:
    planned = PlannedFires()
    before, after_change = SCHEDULES[0], {**SCHEDULES[0], "expression": "45 7 * * *"}
    for data in (before, after_change, before):
        fires = planned_times(planned, row(data), after=START)
        assert fires == evaluated(data, after=START, count=50)
        assert fires
    renamed = planned_times(planned, row(before, name="digest"), after=START)
    assert renamed == evaluated(before, after=START, count=50)
    utc = planned_times(planned, row(before), after=START, zone=ZoneInfo("UTC"))
    assert utc == renamed


def test_ranges_and_jobs_are_kept_apart_within_the_bound() -> None:
    planned = PlannedFires(ranges=2)
    schedule = parse_schedule(SCHEDULES[0])
    for _ in range(2):
        for job, start in (("job_1", START), ("job_2", START), ("job_1", START + timedelta(1))):
            fires = planned_times(planned, row(SCHEDULES[0], job_id=job), after=start, start=start)
            end = start + timedelta(days=7)
            assert fires == next_fire_times(schedule, after=start, count=50, before=end)
            assert len(fires) == 6  # a week, but 02:30 does not exist on 14 March
            assert len(planned) <= 2


def test_new_ranges_of_dense_jobs_keep_no_more_fires_than_the_bound() -> None:
    planned = PlannedFires(fires=100)
    minutely = row(SCHEDULES[-1])
    schedule = parse_schedule(SCHEDULES[-1])
    for hours in range(20):  # a new range each time, as a client asking "from now" would
        start = START + timedelta(hours=hours, minutes=7)
        events, _ = planned.plan(
            minutely, zone=TOKYO, start=start, end=END, after=start, count=51, cap=50
        )
        assert [e.time for e in events] == next_fire_times(
            schedule, after=start, count=51, before=END
        )
        assert planned.fires_kept <= 100


def test_next_fire_times_before_is_the_cut_list() -> None:
    for data in SCHEDULES:
        schedule = parse_schedule(data)
        for after in AFTERS:
            bounded = next_fire_times(schedule, after=after, count=500, before=END)
            assert bounded == evaluated(data, after=after, count=500)
