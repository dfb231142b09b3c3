"""An ``every`` schedule's ``offset`` (Temporal's interval phase): fires at k·interval + offset
since the epoch, in the evaluator, in the Temporal schedule a job gets, and in the API."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from temporalio.client import Client

from api.core.schedules import build_schedule
from domain.schedules import EverySchedule, next_fire_times
from tests.helpers.api import Api
from tests.helpers.evaluator import COUNT, compare_with_temporal, job_row

PREFIX = "/api/scheduler"
TWO_WEEKS = 14 * 86400


@pytest.mark.parametrize(
    ("interval", "offset"),
    [(TWO_WEEKS, 147600), (TWO_WEEKS, TWO_WEEKS - 1), (3600, 1800), (7 * 86400, 86400)],
)
async def test_an_offset_interval_fires_where_temporal_fires_it(
    temporal_client: Client, interval: int, offset: int
) -> None:
    schedule = EverySchedule(type="every", interval=interval, offset=offset)
    spec = build_schedule(
        job_row(schedule, "job_offset"), task_queue="q", default_catchup_window_seconds=300
    ).spec
    times = await compare_with_temporal(
        temporal_client, spec, lambda after: next_fire_times(schedule, after=after, count=COUNT)
    )
    assert len(times) == COUNT
    assert all(int(t.timestamp()) % interval == offset for t in times)


def test_every_other_friday_at_five_is_the_epoch_plus_its_phase() -> None:
    # The epoch is a Thursday: Friday 17:00 UTC is 1 day 17 hours after a two-week boundary.
    schedule = EverySchedule(type="every", interval="2w", offset="1d17h")
    assert schedule.offset == 147600
    fires = next_fire_times(schedule, after=datetime(2027, 3, 10, tzinfo=UTC), count=3)
    assert [f.isoformat() for f in fires] == [
        "2027-03-12T17:00:00+00:00",
        "2027-03-26T17:00:00+00:00",
        "2027-04-09T17:00:00+00:00",
    ]


async def test_the_api_keeps_an_offset_and_refuses_one_not_below_the_interval(api: Api) -> None:
    alice = await api.headers("alice")
    job = {"name": "n", "goal": "g", "agent_id": "echo"}
    schedule = {"type": "every", "interval": "2w", "offset": "1d17h"}
    created = await api.http.post(
        f"{PREFIX}/jobs", json={**job, "schedule": schedule}, headers=alice
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["schedule"] == {
        "type": "every",
        "interval": TWO_WEEKS,
        "offset": 147600,
        "timezone": "UTC",
    }
    next_run = datetime.fromisoformat(body["next_run_at"])
    assert int(next_run.timestamp()) % TWO_WEEKS == 147600 and next_run.weekday() == 4
    # No offset, none shown: every schedules answer as before.
    plain = await api.http.post(
        f"{PREFIX}/jobs",
        json={**job, "schedule": {"type": "every", "interval": 60}},
        headers=alice,
    )
    assert plain.json()["schedule"] == {"type": "every", "interval": 60, "timezone": "UTC"}
    for offset, message in (
        (TWO_WEEKS, "must be less than the interval"),
        (-1, "offset"),
        ("soon", "not a duration"),
    ):
        refused = await api.http.post(
            f"{PREFIX}/jobs",
            json={**job, "schedule": {"type": "every", "interval": "2w", "offset": offset}},
            headers=alice,
        )
        assert refused.status_code == 422, refused.text
        (detail,) = refused.json()["details"]
        assert detail["field"] == "schedule.offset" and message in detail["message"]


async def test_parse_nl_answers_the_phase_and_its_warnings(api: Api) -> None:
    alice = await api.headers("alice")
    api.pin(datetime(2027, 3, 10, 12, tzinfo=UTC))
    answer = await api.http.post(
        f"{PREFIX}/parse-nl", json={"text": "every other friday at 5pm"}, headers=alice
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["schedule"]["type"] == "every" and body["schedule"]["interval"] == TWO_WEEKS
    assert body["warnings"]
    created = await api.http.post(
        f"{PREFIX}/jobs",
        json={"name": "n", "goal": "g", "agent_id": "echo", "schedule": body["schedule"]},
        headers=alice,
    )
    assert created.status_code == 201, created.text
    assert datetime.fromisoformat(created.json()["next_run_at"]).strftime("%a %H:%M") == (
        "Fri 17:00"
    )
