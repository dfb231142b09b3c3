"""A schedule's ``start_at`` / ``end_at`` (docs/time.md, "Start and end"): the evaluator against
a live Temporal Server, given the spec the API builds, and the API's checks of the bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client

from api.core.schedules import schedule_spec
from domain.dst import dst_warnings
from domain.schedules import (
    AtSchedule,
    CronSchedule,
    EverySchedule,
    is_fire_time,
    next_fire_times,
    previous_fire_time,
)
from tests.helpers.api import Api
from tests.helpers.evaluator import compare_with_temporal, compare_years

PREFIX = "/api/scheduler"


@pytest.mark.parametrize(
    "schedule",
    [
        # Start and end both included (Temporal's rule), on fires that fall on them exactly.
        CronSchedule(
            type="cron",
            expression="0 9 L-1 * *",
            timezone="America/New_York",
            start_at="2027-03-30T09:00:00-04:00",
            end_at="2029-02-27T09:00:00-05:00",
        ),
        # Naive bounds are wall times in the zone; an end a second before a fire leaves it out.
        CronSchedule(
            type="cron",
            expression="0,30 1,2 * * 0",
            timezone="Europe/London",
            start_at="2027-03-20T00:00:00",
            end_at="2027-11-07T01:59:59",
        ),
        EverySchedule(
            type="every",
            interval="7h",
            timezone="Australia/Lord_Howe",
            start_at="2027-04-01T00:00:00",
            end_at="2027-05-01T00:00:00",
        ),
    ],
    ids=["penultimate-day", "sundays-in-london", "every-7h"],
)
async def test_bounded_schedules_fire_as_temporal_fires_them(
    temporal_client: Client, schedule: CronSchedule | EverySchedule
) -> None:
    start = datetime(2027, 1, 1, tzinfo=UTC)
    times = await compare_years(temporal_client, schedule, start, years=3)  # type: ignore[arg-type]
    assert schedule.start_at is not None and schedule.end_at is not None
    assert times and schedule.start_at <= times[0] and times[-1] <= schedule.end_at
    unbounded = schedule.model_copy(update={"start_at": None, "end_at": None})
    everything = next_fire_times(unbounded, after=start, count=1000)
    assert len(times) < len([t for t in everything if t <= start.replace(year=2030)])


async def test_next_action_times_stop_at_the_end(temporal_client: Client) -> None:
    """Temporal's own upcoming times (``describe().info.next_action_times``) of a schedule that
    starts tomorrow and ends three fires later are the evaluator's: three, not ten."""
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    schedule = CronSchedule(
        type="cron",
        expression="0 * * * *",
        start_at=tomorrow,
        end_at=tomorrow + timedelta(hours=2),
    )
    times = await compare_with_temporal(
        temporal_client,
        schedule_spec(schedule, jitter_seconds=0),
        lambda after: next_fire_times(schedule, after=after, count=10),
    )
    assert times == [tomorrow + timedelta(hours=n) for n in range(3)]


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="end_at .* must be after start_at"):
        CronSchedule(
            type="cron", expression="0 9 * * *", start_at="2027-03-02", end_at="2027-03-01"
        )
    with pytest.raises(ValueError, match="start_at .*2000"):
        EverySchedule(type="every", interval=60, start_at="1999-12-31T00:00:00Z")
    with pytest.raises(ValueError, match="outside start_at"):
        AtSchedule(type="at", datetime="2027-03-05T09:00", end_at="2027-03-01")
    naive = CronSchedule(
        type="cron", expression="0 9 * * *", timezone="Asia/Tokyo", end_at="2027-03-01T12:00"
    )
    assert naive.end_at is not None and naive.end_at.isoformat() == "2027-03-01T12:00:00+09:00"
    # Unbounded schedules answer as they always did: no start_at / end_at keys.
    plain = EverySchedule(type="every", interval=60)
    assert set(plain.model_dump(mode="json")) == {"type", "interval", "timezone"}


async def test_a_job_keeps_its_bounds_and_previews_honour_them(api: Api) -> None:
    alice = await api.headers("alice")
    api.pin(datetime(2027, 3, 10, 12, tzinfo=UTC))
    schedule = {
        "type": "cron",
        "expression": "0 9 * * *",
        "timezone": "Europe/Paris",
        "start_at": "2027-04-01",
        "end_at": "2027-04-03T23:59:59",
    }
    job = {"name": "n", "goal": "g", "agent_id": "echo"}
    created = await api.http.post(
        f"{PREFIX}/jobs", json={**job, "schedule": schedule}, headers=alice
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["schedule"]["start_at"] == "2027-04-01T00:00:00+02:00"
    assert body["next_run_at"] == "2027-04-01T09:00:00+02:00"
    assert body["schedule_description"].endswith("from 2027-04-01 until 2027-04-03")
    checked = await api.http.post(
        f"{PREFIX}/validate", json={"schedule": schedule, "count": 10}, headers=alice
    )
    assert [t[:10] for t in checked.json()["next_runs"]] == [
        "2027-04-01",
        "2027-04-02",
        "2027-04-03",
    ]
    backwards = {**schedule, "end_at": "2027-03-31"}
    refused = await api.http.post(
        f"{PREFIX}/jobs", json={**job, "schedule": backwards}, headers=alice
    )
    assert refused.status_code == 422, refused.text
    assert "must be after start_at" in refused.json()["message"]


def test_every_view_of_the_evaluator_stops_at_the_bounds() -> None:
    """Explain's fires around an instant and the DST warnings read the same bounds."""
    schedule = CronSchedule(
        type="cron",
        expression="30 2 * * *",
        timezone="America/New_York",
        start_at="2027-03-01",
        end_at="2027-03-20",
    )
    inside = datetime(2027, 3, 10, 12, tzinfo=UTC)
    assert previous_fire_time(schedule, before=datetime(2027, 1, 1, tzinfo=UTC)) is None
    last = previous_fire_time(schedule, before=datetime(2028, 1, 1, tzinfo=UTC))
    assert last is not None and last.isoformat() == "2027-03-19T02:30:00-04:00"  # end: 00:00
    assert is_fire_time(schedule, datetime(2027, 3, 10, 7, 30, tzinfo=UTC))
    assert not is_fire_time(schedule, datetime(2027, 3, 21, 6, 30, tzinfo=UTC))
    # 02:30 does not exist on 2027-03-14 in New York: warned of inside the bounds only.
    warned = dst_warnings(
        schedule, start=inside - timedelta(days=30), end=inside + timedelta(days=30)
    )
    assert [w.at.date().isoformat() for w in warned] == ["2027-03-14"]
    ended = schedule.model_copy(update={"end_at": datetime(2027, 3, 13, tzinfo=UTC)})
    assert (
        dst_warnings(ended, start=inside - timedelta(days=30), end=inside + timedelta(days=30))
        == []
    )
