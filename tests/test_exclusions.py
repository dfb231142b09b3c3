"""Exclusions (docs/time.md, "Exclusions"): dates and holiday calendars a schedule does not fire
on, and single fires skipped on purpose, as Temporal's own exclude calendars."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from temporalio.client import Client, ScheduleUpdate
from temporalio.testing import ActivityEnvironment

from activities.runs import RunRecorder
from activities.tick import TickActivities
from api.core.index.db import make_engine
from api.core.index.models import Job
from api.core.schedules import build_schedule, holidays_covered_until, schedule_spec
from api.core.settings import Settings
from domain.contract.tick import ReconcileInput
from domain.nl.describe import describe
from domain.schedules import CronSchedule, EverySchedule, next_fire_times
from tests.helpers.api import JOBS, Api, create
from tests.helpers.evaluator import (
    compare_with_temporal,
    compare_years,
    temporal_matching_times,
)

NY = "America/New_York"
US_WEEKDAYS = {"type": "cron", "expression": "0 9 * * 1-5", "timezone": NY}


def _weekdays_except_us(**exclude: Any) -> CronSchedule:
    return CronSchedule.model_validate({**US_WEEKDAYS, "exclude": {"holidays": "US", **exclude}})


def _days(times: list[datetime]) -> list[str]:
    return [t.date().isoformat() for t in times]


def test_weekdays_except_us_holidays_skip_thanksgiving_and_christmas() -> None:
    schedule = _weekdays_except_us()
    fires = next_fire_times(schedule, after=datetime(2028, 11, 21, tzinfo=UTC), count=4)
    assert _days(fires) == ["2028-11-21", "2028-11-22", "2028-11-24", "2028-11-27"]
    fires = next_fire_times(schedule, after=datetime(2028, 12, 21, tzinfo=UTC), count=3)
    assert _days(fires) == ["2028-12-21", "2028-12-22", "2028-12-26"]


def test_dates_and_skips_are_local_and_kept_in_order() -> None:
    schedule = _weekdays_except_us(
        dates=["2028-11-22", "2028-11-21", "2028-11-22"], skipped=["2028-11-27T09:00:00"]
    )
    assert schedule.model_dump(mode="json")["exclude"] == {
        "dates": ["2028-11-21", "2028-11-22"],
        "holidays": "US",
        "skipped": ["2028-11-27T14:00:00Z"],
    }
    fires = next_fire_times(schedule, after=datetime(2028, 11, 20, 15, tzinfo=UTC), count=2)
    assert _days(fires) == ["2028-11-24", "2028-11-28"]
    assert describe(schedule).endswith(
        "Eastern Time, except on US holidays, 2 listed dates and 1 skipped fire"
    )
    # No exclusions: the answer is as it always was.
    assert "exclude" not in CronSchedule.model_validate(US_WEEKDAYS).model_dump(mode="json")


def test_an_every_schedule_skips_whole_local_days() -> None:
    hourly = {"type": "every", "interval": "1h", "timezone": "Europe/Berlin"}
    berlin = EverySchedule.model_validate({**hourly, "exclude": {"holidays": "de-by"}})
    assert berlin.exclude is not None and berlin.exclude.holidays == "DE-BY"
    fires = next_fire_times(berlin, after=datetime(2027, 12, 24, 21, 30, tzinfo=UTC), count=3)
    assert [f.isoformat() for f in fires] == [
        "2027-12-24T23:00:00+01:00",
        "2027-12-27T00:00:00+01:00",
        "2027-12-27T01:00:00+01:00",
    ]


@pytest.mark.parametrize(
    ("exclude", "field", "message"),
    [
        ({"holidays": "XX"}, "exclude.holidays", "unknown holiday calendar 'XX'"),
        ({"holidays": "GB-XYZ"}, "exclude.holidays", "GB has no subdivision 'XYZ'"),
        ({"dates": ["next monday"]}, "exclude.dates.0", "must be a date as YYYY-MM-DD"),
        ({"dates": [20271225]}, "exclude.dates.0", "must be a date as YYYY-MM-DD"),
        ({"dates": ["2027-02-30"]}, "exclude.dates.0", "'2027-02-30' is not a date"),
        ({"dates": ["2101-01-01"]}, "exclude.dates.0", "outside the years 2000–2100"),
        ({"dates": ["2027-01-01"] * 10_000}, "exclude.dates", "at most 1000 items"),
        ({"weekends": True}, "exclude.weekends", "Extra inputs are not permitted"),
    ],
)
def test_bad_exclusions_are_refused_naming_the_field(
    exclude: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        CronSchedule.model_validate({**US_WEEKDAYS, "exclude": exclude})
    (error,) = caught.value.errors()
    assert ".".join(str(part) for part in error["loc"]) == field
    assert message in error["msg"]


def test_holidays_null_is_no_holidays_and_a_long_name_is_refused() -> None:
    """Schemathesis found a 500: the length bound was applied to null as well."""
    schedule = CronSchedule.model_validate(
        {**US_WEEKDAYS, "exclude": {"dates": [], "holidays": None, "skipped": []}}
    )
    assert schedule.exclude is not None and schedule.exclude.holidays is None
    with pytest.raises(ValidationError) as caught:
        CronSchedule.model_validate({**US_WEEKDAYS, "exclude": {"holidays": "X" * 41}})
    assert caught.value.errors()[0]["loc"][-1] == "holidays"


# --- Temporal's own exclusions --------------------------------------------------------------


def _from(schedule: CronSchedule, start: datetime) -> Callable[[datetime], list[datetime]]:
    """The evaluator's next ten fires from ``after``, or from ``start`` (the spec's start_at)."""

    def evaluate(after: datetime) -> list[datetime]:
        return next_fire_times(schedule, after=max(after, start - timedelta(seconds=1)), count=10)

    return evaluate


async def test_temporal_skips_thanksgiving_and_christmas_in_its_next_action_times(
    temporal_client: Client,
) -> None:
    schedule = _weekdays_except_us()
    for start, expected in (
        (datetime(2028, 11, 21, tzinfo=UTC), ["2028-11-21", "2028-11-22", "2028-11-24"]),
        (datetime(2028, 12, 21, tzinfo=UTC), ["2028-12-21", "2028-12-22", "2028-12-26"]),
    ):
        spec = schedule_spec(schedule, jitter_seconds=0)
        spec.start_at = start
        times = await compare_with_temporal(temporal_client, spec, _from(schedule, start))
        assert _days(times)[:3] == expected


async def test_holidays_dates_and_skips_agree_with_temporal_for_three_years(
    temporal_client: Client,
) -> None:
    schedule = _weekdays_except_us(dates=["2027-03-15", "2028-07-05"], skipped=["2027-06-01T09:00"])
    times = await compare_years(temporal_client, schedule, datetime(2027, 1, 1, tzinfo=UTC), 3)
    days = set(_days(times))
    assert "2027-11-25" not in days and "2027-11-24" in days  # Thanksgiving
    assert {"2027-03-15", "2028-07-05", "2027-06-01"}.isdisjoint(days)
    london = CronSchedule.model_validate(
        {
            "type": "cron",
            "expression": "30 1 * * *",
            "timezone": "Europe/London",
            "exclude": {"holidays": "GB-ENG"},
        }
    )
    times = await compare_years(temporal_client, london, datetime(2027, 1, 1, tzinfo=UTC), 2)
    assert "2027-12-28" not in set(_days(times))  # Boxing Day (observed)


async def test_an_every_schedules_exclusions_agree_with_temporal_for_a_year(
    temporal_client: Client,
) -> None:
    every = EverySchedule.model_validate(
        {
            "type": "every",
            "interval": "12h",
            "offset": "3h",
            "timezone": "Europe/Berlin",
            "exclude": {"holidays": "DE-BY", "dates": ["2027-06-01"]},
        }
    )
    start, end = datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)
    theirs = await temporal_matching_times(
        temporal_client, schedule_spec(every, jitter_seconds=0), start, end
    )
    ours = [t.astimezone(UTC) for t in next_fire_times(every, after=start, count=1000) if t <= end]
    assert ours == theirs
    berlin = {t.astimezone(ZoneInfo("Europe/Berlin")).date().isoformat() for t in theirs}
    assert {"2027-06-01", "2027-12-25", "2027-11-01"}.isdisjoint(berlin)  # All Saints' Day
    assert "2027-12-27" in berlin


# --- The API: exclusions on a job, skipping one fire ---------------------------------------


async def test_a_job_with_holidays_has_temporal_exclude_calendars(
    api: Api, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    schedule = {**US_WEEKDAYS, "exclude": {"holidays": "us", "dates": ["2031-01-02"]}}
    job = await create(api, alice, schedule=schedule)
    assert job["schedule"]["exclude"] == {"dates": ["2031-01-02"], "holidays": "US"}
    assert job["schedule_description"].endswith("except on US holidays and 2031-01-02")
    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    spec = description.schedule.spec
    covered = holidays_covered_until(spec)
    assert covered is not None and covered >= datetime.now(UTC).year + 5
    assert datetime.fromisoformat(job["next_run_at"]) == description.info.next_action_times[0]


@pytest.mark.parametrize(
    ("exclude", "field", "fragment"),
    [
        ({"holidays": "Narnia"}, "schedule.exclude.holidays", "unknown holiday calendar"),
        ({"dates": ["soon"]}, "schedule.exclude.dates.0", "YYYY-MM-DD"),
        ({"dates": ["2027-01-01"] * 10_000}, "schedule.exclude.dates", "at most 1000"),
    ],
)
async def test_bad_exclusions_are_422s_naming_the_field(
    api: Api, exclude: dict[str, Any], field: str, fragment: str
) -> None:
    alice = await api.headers("alice")
    response = await api.http.post(
        JOBS,
        json={
            "name": "n",
            "goal": "g",
            "agent_id": "echo",
            "schedule": {**US_WEEKDAYS, "exclude": exclude},
        },
        headers=alice,
    )
    assert response.status_code == 422, response.text
    fields = {d["field"]: d["message"] for d in response.json()["details"]}
    assert field in fields, fields
    assert fragment in fields[field]


async def test_skip_one_fire_then_undo_it(api: Api, temporal_client: Client) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, schedule=dict(US_WEEKDAYS))
    handle = temporal_client.get_schedule_handle(job["id"])
    first, second = (await handle.describe()).info.next_action_times[:2]
    url = f"{JOBS}/{job['id']}/skip"

    response = await api.http.post(url, json={"at": first.isoformat()}, headers=alice)
    assert response.status_code == 200, response.text
    skipped = response.json()
    assert skipped["schedule"]["exclude"]["skipped"] == [first.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert datetime.fromisoformat(skipped["next_run_at"]) == second
    assert "1 skipped fire" in skipped["schedule_description"]
    described = await handle.describe()
    assert described.info.next_action_times[0] == second

    explained = await api.http.get(
        f"{JOBS}/{job['id']}/explain", params={"at": first.isoformat()}, headers=alice
    )
    body = explained.json()
    assert body["due"] is False and body["verdict"] == "not_due"
    (reason,) = body["reasons"]
    assert reason["code"] == "skipped_on_purpose" and reason["details"] == {"by": "skipped"}
    assert reason["message"].startswith("skipped on purpose")

    # A time that is not a fire, or is past, is a 422 on `at`; an unknown skip a 404.
    for at in (first + timedelta(minutes=1), datetime(2020, 1, 6, 14, tzinfo=UTC)):
        refused = await api.http.post(url, json={"at": at.isoformat()}, headers=alice)
        assert refused.status_code == 422, refused.text
        assert refused.json()["details"][0]["field"] == "at"
    missing = await api.http.delete(f"{url}/{second.isoformat()}", headers=alice)
    assert missing.status_code == 404

    undone = await api.http.delete(f"{url}/{first.isoformat()}", headers=alice)
    assert undone.status_code == 200, undone.text
    assert "exclude" not in undone.json()["schedule"]
    assert (await handle.describe()).info.next_action_times[0] == first


async def test_the_tick_extends_holiday_calendars_before_they_run_out(
    api: Api, temporal_client: Client, settings: Settings
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, schedule={**US_WEEKDAYS, "exclude": {"holidays": "US"}})
    handle = temporal_client.get_schedule_handle(job["id"])
    async with api.state.sessions() as session:
        row = await session.get(Job, job["id"])
        assert row is not None
        # As built in 2021: holidays to 2026 only.
        old = build_schedule(
            row,
            task_queue=settings.task_queue,
            default_catchup_window_seconds=300,
            now=datetime(2021, 6, 1, tzinfo=UTC),
        )
        await session.execute(
            sa.update(Job)
            .where(Job.id == job["id"])
            .values(updated_at=datetime.now(UTC) - timedelta(minutes=5))
        )
        await session.commit()
    await handle.update(lambda _: ScheduleUpdate(schedule=old))
    assert holidays_covered_until((await handle.describe()).schedule.spec) == 2026

    engine = make_engine(settings.resolved_database_url)
    tick = TickActivities(
        engine, temporal_client, settings, recorder=RunRecorder(engine, temporal_client)
    )
    try:
        result = await ActivityEnvironment().run(
            tick.reconcile, ReconcileInput(workflow_id="t-holidays", grace_seconds=0)
        )
    finally:
        await engine.dispose()
    assert result.repairs.get("holiday_calendars_extended") == 1
    covered = holidays_covered_until((await handle.describe()).schedule.spec)
    assert covered is not None and covered >= datetime.now(UTC).year + 5
