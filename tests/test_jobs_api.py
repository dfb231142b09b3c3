"""Job endpoints against the real app, a real Temporal dev server and the index (docs/api.md,
"Jobs")."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleOverlapPolicy,
)
from temporalio.worker import Worker

from api.core.index.models import jobs as jobs_table
from domain import search_attributes
from domain.contract.runs import JobRunResult
from tests.helpers.api import JOBS, Api, create, job_body


async def test_create_cron_job_maps_onto_a_temporal_schedule(
    api: Api, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, overlap="buffer_one")

    assert job["id"].startswith("job_")
    assert job["status"] == "active"
    assert job["schedule"] == {
        "type": "cron",
        "expression": "0 8 * * 1-5",
        "timezone": "America/New_York",
    }
    assert job["timeout_seconds"] == 1800 and job["max_consecutive_failures"] == 5
    assert job["run_count"] == 0 and job["last_run_at"] is None
    assert job["temporal_ui_url"].endswith(f"/namespaces/default/schedules/{job['id']}")

    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert description.schedule.spec.time_zone_name == "America/New_York"
    assert description.schedule.policy.overlap == ScheduleOverlapPolicy.BUFFER_ONE
    assert not description.schedule.state.paused
    assert await description.memo() == {"owner": "alice", "job_id": job["id"]}
    assert action_memo(temporal_client, description) == {
        "name": "Daily digest",
        "agent_id": "echo",
        "goal": "Summarize today's activity",
    }
    assert action_summary(temporal_client, description) == "Daily digest (echo)"
    assert description.typed_search_attributes.get(search_attributes.OWNER) == "alice"
    assert description.typed_search_attributes.get(search_attributes.JOB_ID) == job["id"]

    # next_run_at is the time Temporal itself fires next, with the job's offset.
    next_run = datetime.fromisoformat(job["next_run_at"])
    assert next_run == description.info.next_action_times[0]
    assert next_run.utcoffset() in (timedelta(hours=-5), timedelta(hours=-4))
    assert next_run.hour == 8 and next_run.weekday() < 5


async def test_last_day_job_is_temporal_calendars(api: Api, temporal_client: Client) -> None:
    alice = await api.headers("alice")
    schedule = {"type": "cron", "expression": "0 18 L * *", "timezone": "Europe/London"}
    job = await create(api, alice, schedule=schedule)

    assert job["schedule"] == schedule
    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    spec = description.schedule.spec
    assert spec.cron_expressions == [] and len(spec.calendars) == 4
    assert spec.time_zone_name == "Europe/London"
    next_run = datetime.fromisoformat(job["next_run_at"])
    assert next_run == description.info.next_action_times[0]
    assert (next_run + timedelta(days=1)).day == 1 and next_run.hour == 18
    assert "last day of the month" in job["schedule_description"]


async def test_a_list_of_expressions_is_one_temporal_schedule(
    api: Api, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    expressions = ["0 9 * * 1-5", "0 11 * * 6,0", "0 18 L * *"]
    job = await create(
        api, alice, schedule={"type": "cron", "expression": expressions, "timezone": "UTC"}
    )
    assert job["schedule"]["expression"] == expressions
    assert job["schedule_description"].startswith(
        "At 09:00 AM, Monday through Friday; and at 11:00 AM, only on Saturday and Sunday; and "
        "at 06:00 PM, on the last day of the month"
    )
    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    spec = description.schedule.spec
    # Temporal answers cron strings as calendars too: two, and the four of L.
    assert spec.cron_expressions == [] and len(spec.calendars) == 2 + 4
    assert datetime.fromisoformat(job["next_run_at"]) == description.info.next_action_times[0]
    # The calendar plans and explain reads the fires of every expression.
    start = datetime.now(UTC).replace(microsecond=0)
    calendar = await api.http.get(
        "/api/scheduler/calendar-data",
        params={"start": start.isoformat(), "end": (start + timedelta(days=40)).isoformat()},
        headers=alice,
    )
    planned = [
        datetime.fromisoformat(e["time"])
        for e in calendar.json()["events"]
        if e["job_id"] == job["id"]
    ]
    assert planned[:10] == description.info.next_action_times
    assert {t.hour for t in planned} == {9, 11, 18}
    weekend = next(t for t in planned if t.hour == 11)
    explained = await api.http.get(
        f"{JOBS}/{job['id']}/explain", params={"at": weekend.isoformat()}, headers=alice
    )
    assert explained.json()["due"] is True
    refused = await api.http.post(
        JOBS,
        json=job_body(schedule={"type": "cron", "expression": ["0 9 * * *", "0 9 32W * *"]}),
        headers=alice,
    )
    assert refused.status_code == 422
    (detail,) = refused.json()["details"]
    assert detail["field"] == "schedule.expression"
    assert detail["message"].startswith("expression 1 ('0 9 32W * *'): day-of-month field")


async def test_every_job_is_an_epoch_aligned_interval(api: Api, temporal_client: Client) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, schedule={"type": "every", "interval": "7h"})

    assert job["schedule"]["interval"] == 7 * 3600
    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert [i.every for i in description.schedule.spec.intervals] == [timedelta(hours=7)]
    next_run = datetime.fromisoformat(job["next_run_at"])
    assert next_run == description.info.next_action_times[0]
    assert int(next_run.timestamp()) % (7 * 3600) == 0


async def test_at_job_is_a_one_shot_schedule(api: Api, temporal_client: Client) -> None:
    alice = await api.headers("alice")
    when = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    # A naive datetime is read in the job's timezone.
    naive = when.astimezone(ZoneInfo("Asia/Kolkata")).replace(tzinfo=None).isoformat()
    job = await create(
        api, alice, schedule={"type": "at", "datetime": naive, "timezone": "Asia/Kolkata"}
    )

    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert description.schedule.state.limited_actions
    assert description.schedule.state.remaining_actions == 1
    assert description.info.next_action_times == [when]
    assert datetime.fromisoformat(job["next_run_at"]) == when
    assert job["next_run_at"].endswith("+05:30")


async def test_disabled_job_is_created_paused(api: Api, temporal_client: Client) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, enabled=False)
    assert job["status"] == "paused" and job["next_run_at"] is None
    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert description.schedule.state.paused


async def test_status_transitions(api: Api, temporal_client: Client) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    handle = temporal_client.get_schedule_handle(job["id"])

    paused = (await api.http.post(f"{JOBS}/{job['id']}/pause", headers=alice)).json()
    assert paused["status"] == "paused" and paused["next_run_at"] is None
    assert paused["paused_reason"]
    assert (await handle.describe()).schedule.state.paused

    again = await api.http.post(f"{JOBS}/{job['id']}/pause", headers=alice)
    assert again.status_code == 200 and again.json()["status"] == "paused"

    resumed = (await api.http.post(f"{JOBS}/{job['id']}/resume", headers=alice)).json()
    assert resumed["status"] == "active" and resumed["paused_reason"] is None
    assert resumed["next_run_at"] is not None
    assert not (await handle.describe()).schedule.state.paused

    # enabled=false through PUT is a pause too.
    updated = await api.http.put(f"{JOBS}/{job['id']}", json={"enabled": False}, headers=alice)
    assert updated.json()["status"] == "paused"
    assert (await handle.describe()).schedule.state.paused


@pytest.mark.parametrize(
    "overlap",
    [
        ("skip", ScheduleOverlapPolicy.SKIP),
        ("buffer_one", ScheduleOverlapPolicy.BUFFER_ONE),
        ("cancel_other", ScheduleOverlapPolicy.CANCEL_OTHER),
        ("allow_all", ScheduleOverlapPolicy.ALLOW_ALL),
    ],
    ids=lambda pair: pair[0],
)
async def test_overlap_maps_onto_the_schedule_policy(
    api: Api, temporal_client: Client, overlap: tuple[str, ScheduleOverlapPolicy]
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, overlap=overlap[0])
    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert job["overlap"] == overlap[0]
    assert description.schedule.policy.overlap == overlap[1]


@pytest.mark.parametrize("status", ["completed", "failed"])
async def test_finished_job_cannot_be_paused_or_resumed(api: Api, status: str) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    # A finished one-off is what the run workflow leaves behind; set it in the index directly.
    async with api.state.sessions() as session:
        from api.core.index.models import Job

        row = await session.get(Job, job["id"])
        assert row is not None
        row.status = status
        await session.commit()

    attempts = [
        api.http.post(f"{JOBS}/{job['id']}/pause", headers=alice),
        api.http.post(f"{JOBS}/{job['id']}/resume", headers=alice),
        api.http.put(f"{JOBS}/{job['id']}", json={"enabled": True}, headers=alice),
        api.http.put(f"{JOBS}/{job['id']}", json={"enabled": False}, headers=alice),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 409, response.text
        assert response.json()["error"] == "conflict"
        assert status in response.json()["message"]
    after = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()
    assert after["status"] == status


async def test_resuming_a_one_off_whose_time_has_passed_is_a_409(api: Api) -> None:
    alice = await api.headers("alice")
    when = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    job = await create(
        api, alice, schedule={"type": "at", "datetime": when.isoformat()}, enabled=False
    )
    while datetime.now(UTC) < when + timedelta(seconds=1.5):
        await asyncio.sleep(0.2)
    response = await api.http.post(f"{JOBS}/{job['id']}/resume", headers=alice)
    assert response.status_code == 409 and "has passed" in response.json()["message"]
    after = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()
    assert after["status"] == "paused"


async def test_partial_update_changes_only_what_was_sent(api: Api, temporal_client: Client) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)

    response = await api.http.put(
        f"{JOBS}/{job['id']}",
        json={
            "name": "Updated name",
            "schedule": {"type": "cron", "expression": "0 10 * * *", "timezone": "UTC"},
        },
        headers=alice,
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"] == "Updated name"
    assert updated["goal"] == job["goal"] and updated["agent_id"] == job["agent_id"]
    assert updated["schedule"] == {"type": "cron", "expression": "0 10 * * *", "timezone": "UTC"}
    assert updated["updated_at"] > job["updated_at"]

    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert description.schedule.spec.time_zone_name == "UTC"
    next_run = datetime.fromisoformat(updated["next_run_at"])
    assert next_run == description.info.next_action_times[0]
    assert (next_run.hour, next_run.minute) == (10, 0)

    fetched = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()
    assert fetched == updated


async def test_temporal_ui_shows_what_an_edited_job_does(api: Api, temporal_client: Client) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)

    response = await api.http.put(f"{JOBS}/{job['id']}", json={"goal": "A new goal"}, headers=alice)
    assert response.status_code == 200, response.text
    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert action_memo(temporal_client, description) == {
        "name": "Daily digest",
        "agent_id": "echo",
        "goal": "A new goal",
    }

    response = await api.http.put(f"{JOBS}/{job['id']}", json={"name": "Renamed"}, headers=alice)
    assert response.status_code == 200, response.text
    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert (action_memo(temporal_client, description))["name"] == "Renamed"
    assert action_summary(temporal_client, description) == "Renamed (echo)"
    assert await description.memo() == {"owner": "alice", "job_id": job["id"]}

    run_id = (await api.http.post(f"{JOBS}/{job['id']}/trigger", headers=alice)).json()["run_id"]
    run = await temporal_client.get_workflow_handle(run_id).describe()
    assert (await run.memo())["goal"] == "A new goal"


def action_memo(client: Client, description: ScheduleDescription) -> dict[str, Any]:
    """The memo the schedule gives each run it starts, decoded."""
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow) and action.memo
    converter = client.data_converter.payload_converter
    return {key: converter.from_payload(value) for key, value in action.memo.items()}


def action_summary(client: Client, description: ScheduleDescription) -> str:
    """The summary the Temporal UI shows for the schedule's runs, decoded."""
    action = description.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert isinstance(action.static_summary, Payload)  # a described schedule holds raw payloads
    summary: str = client.data_converter.payload_converter.from_payload(action.static_summary)
    return summary


async def test_update_recreates_a_schedule_deleted_behind_our_back(
    api: Api, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    await temporal_client.get_schedule_handle(job["id"]).delete()

    response = await api.http.put(
        f"{JOBS}/{job['id']}", json={"overlap": "allow_all"}, headers=alice
    )
    assert response.status_code == 200
    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert description.schedule.policy.overlap == ScheduleOverlapPolicy.ALLOW_ALL


async def test_delete_removes_job_and_schedule(api: Api, temporal_client: Client) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)

    response = await api.http.delete(f"{JOBS}/{job['id']}", headers=alice)
    assert response.status_code == 204 and response.content == b""
    assert (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).status_code == 404
    schedule_ids = [s.id async for s in await temporal_client.list_schedules()]
    assert job["id"] not in schedule_ids
    with pytest.raises(Exception, match="not found"):
        await temporal_client.get_schedule_handle(job["id"]).describe()
    assert (await api.http.delete(f"{JOBS}/{job['id']}", headers=alice)).status_code == 404


async def test_trigger_starts_a_run_now_even_when_paused(
    api: Api, temporal_client: Client, worker: Worker
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, enabled=False)

    response = await api.http.post(f"{JOBS}/{job['id']}/trigger", headers=alice)
    assert response.status_code == 202
    body = response.json()
    assert body["job_id"] == job["id"] and body["run_id"].startswith("run_")

    handle = temporal_client.get_workflow_handle(body["run_id"], result_type=JobRunResult)
    result = await handle.result()
    assert result.status == "completed" and result.error is None
    assert result.output == job["goal"]
    description = await handle.describe()
    assert description.typed_search_attributes.get(search_attributes.JOB_ID) == job["id"]
    assert description.typed_search_attributes.get(search_attributes.TRIGGER) == "manual"


async def test_list_paginates_newest_first_with_total_count(api: Api) -> None:
    alice = await api.headers("alice")
    bob = await api.headers("bob")
    created = [await create(api, alice, name=f"job {i}") for i in range(5)]
    await create(api, bob, name="bob's")
    await api.http.post(f"{JOBS}/{created[1]['id']}/pause", headers=alice)

    page = (await api.http.get(JOBS, params={"limit": 2}, headers=alice)).json()
    assert page["count"] == 5
    assert [j["name"] for j in page["jobs"]] == ["job 4", "job 3"]
    page = (await api.http.get(JOBS, params={"limit": 2, "offset": 4}, headers=alice)).json()
    assert page["count"] == 5 and [j["name"] for j in page["jobs"]] == ["job 0"]
    past_the_end = (await api.http.get(JOBS, params={"offset": 9}, headers=alice)).json()
    assert past_the_end == {"jobs": [], "count": 5}
    carol = (await api.http.get(JOBS, headers=await api.headers("carol"))).json()
    assert carol == {"jobs": [], "count": 0}

    paused = (await api.http.get(JOBS, params={"status": "paused"}, headers=alice)).json()
    assert paused["count"] == 1 and paused["jobs"][0]["id"] == created[1]["id"]
    active = (await api.http.get(JOBS, params={"status": "active"}, headers=alice)).json()
    assert active["count"] == 4

    everything = (await api.http.get(JOBS, params={"limit": 200}, headers=alice)).json()
    assert len(everything["jobs"]) == 5


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", JOBS),
        ("post", JOBS),
        ("get", f"{JOBS}/job_x"),
        ("put", f"{JOBS}/job_x"),
        ("delete", f"{JOBS}/job_x"),
        ("post", f"{JOBS}/job_x/pause"),
        ("post", f"{JOBS}/job_x/resume"),
        ("post", f"{JOBS}/job_x/trigger"),
    ],
)
async def test_every_job_route_needs_a_valid_key(api: Api, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer sk_wrong"}, {"Authorization": "Basic abc"}):
        response = await api.http.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (headers, response.text)
        assert response.json()["error"] == "unauthorized"
        assert response.json()["status"] == 401


async def test_revoked_key_is_refused(api: Api) -> None:
    from api.core.index.keys import create_key, revoke_key

    async with api.state.sessions() as session:
        row, key = await create_key(session, owner="carol")
        headers = {"Authorization": f"Bearer {key}"}
        assert (await api.http.get(JOBS, headers=headers)).status_code == 200
        assert await revoke_key(session, key_id=row.id)
    assert (await api.http.get(JOBS, headers=headers)).status_code == 401


async def test_healthz_needs_no_key(api: Api) -> None:
    response = await api.http.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_another_owners_job_is_invisible_on_every_route(
    api: Api, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    mallory = await api.headers("mallory")
    job = await create(api, alice)
    path = f"{JOBS}/{job['id']}"

    calls = [
        ("get", path, None),
        ("put", path, {"name": "mine now"}),
        ("delete", path, None),
        ("post", f"{path}/pause", None),
        ("post", f"{path}/resume", None),
        ("post", f"{path}/trigger", None),
    ]
    for method, url, body in calls:
        response = await api.http.request(method, url, json=body, headers=mallory)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json() == {
            "error": "not_found",
            "message": f"Job {job['id']} not found",
            "status": 404,
        }
    assert (await api.http.get(JOBS, headers=mallory)).json() == {"jobs": [], "count": 0}

    # Nothing changed for the owner, in the index or in Temporal.
    assert (await api.http.get(path, headers=alice)).json()["name"] == job["name"]
    assert not (
        await temporal_client.get_schedule_handle(job["id"]).describe()
    ).schedule.state.paused


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        (
            {"schedule": {"type": "cron", "expression": "61 * * * *"}},
            "schedule.expression",
            "minute",
        ),
        (
            {"schedule": {"type": "cron", "expression": "0 9 32W * *"}},
            "schedule.expression",
            "day-of-month field: '32W'",
        ),
        (
            {"schedule": {"type": "cron", "expression": "0 9 * * 8#6"}},
            "schedule.expression",
            "day-of-week field: '8#6'",
        ),
        (
            {
                "schedule": {
                    "type": "cron",
                    "expression": "0 9 * * *",
                    "timezone": "America/NewYork",
                }
            },
            "schedule.timezone",
            "America/New_York",
        ),
        (
            {"schedule": {"type": "at", "datetime": "2020-01-01T00:00:00Z"}},
            "schedule.datetime",
            "future",
        ),
        ({"schedule": {"type": "every", "interval": 0}}, "schedule.interval", "1 second"),
        ({"agent_id": "nobody"}, "agent_id", "unknown agent"),
        ({"colour": "blue"}, "colour", "unknown field"),
        (
            {"schedule": {"type": "cron", "expression": "0 9 * * *", "tz": "UTC"}},
            "schedule.tz",
            "unknown field",
        ),
        ({"name": ""}, "name", "at least 1"),
        ({"schedule": {"type": "hourly"}}, "schedule", ""),
        ({"overlap": "sometimes"}, "overlap", ""),
    ],
)
async def test_bad_job_is_a_422_naming_the_field_and_changes_nothing(
    api: Api, overrides: dict[str, Any], field: str, fragment: str
) -> None:
    alice = await api.headers("alice")
    response = await api.http.post(JOBS, json=job_body(**overrides), headers=alice)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error" and body["status"] == 422
    fields = {d["field"]: d["message"] for d in body["details"]}
    assert field in fields, fields
    assert fragment.lower() in fields[field].lower()
    assert (await api.http.get(JOBS, headers=alice)).json()["count"] == 0


async def test_bad_update_is_a_422_and_changes_nothing(api: Api, temporal_client: Client) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    for body in (
        {"schedule": {"type": "cron", "expression": "0 0 * * 5#6"}},
        {"agent_id": "ghost"},
        {"status": "paused"},
        {"timeout_seconds": 0},
    ):
        response = await api.http.put(f"{JOBS}/{job['id']}", json=body, headers=alice)
        assert response.status_code == 422, (body, response.text)
    assert (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json() == job


async def test_list_limit_over_200_is_a_422(api: Api) -> None:
    alice = await api.headers("alice")
    response = await api.http.get(JOBS, params={"limit": 201}, headers=alice)
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "limit"
    response = await api.http.get(JOBS, params={"status": "gone"}, headers=alice)
    assert response.status_code == 422


async def test_unknown_route_and_malformed_json_use_the_error_format(api: Api) -> None:
    alice = await api.headers("alice")
    response = await api.http.get("/api/scheduler/nothing-here", headers=alice)
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    response = await api.http.post(
        JOBS, content=b"{not json", headers={**alice, "Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"] == "bad_request"


async def test_a_pause_may_say_why(api: Api) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    url = f"{JOBS}/{job['id']}"
    for refused in ({"reason": ""}, {"reason": "a\u0000b"}, {"reason": "x" * 501}, {"why": "x"}):
        answer = await api.http.post(f"{url}/pause", json=refused, headers=alice)
        assert answer.status_code == 422, refused
    assert (await api.http.get(url, headers=alice)).json()["status"] == "active"
    paused = await api.http.post(f"{url}/pause", json={"reason": "migration"}, headers=alice)
    assert paused.json()["paused_reason"] == "paused by user: migration"
    again = await api.http.post(f"{url}/pause", json={"reason": "other"}, headers=alice)
    assert again.json()["paused_reason"] == "paused by user: migration"  # already paused: kept
    await api.http.post(f"{url}/resume", headers=alice)
    plain = await api.http.post(f"{url}/pause", headers=alice)
    assert plain.json()["paused_reason"] == "paused by user"


async def test_a_stored_schedule_the_parser_no_longer_takes_is_still_read(api: Api) -> None:
    """A schedule stored by an older version that today's parser refuses is shown as its raw
    fields, with no warnings, instead of failing the read."""
    alice = await api.headers("alice")
    job = await create(api, alice, enabled=False)
    old = {"type": "cron", "expression": "0 9 * * MON?", "timezone": "UTC"}
    async with api.state.sessions() as session:
        await session.execute(
            sa.update(jobs_table).where(jobs_table.c.id == job["id"]).values(schedule=old)
        )
        await session.commit()
    for url in (f"{JOBS}/{job['id']}", JOBS):
        response = await api.http.get(url, headers=alice)
        assert response.status_code == 200, response.text
        body = response.json()
        shown = body if "id" in body else body["jobs"][0]
        assert shown["schedule"] == old and shown["schedule_warnings"] == []
        assert shown["schedule_description"] == "type cron, expression 0 9 * * MON?, timezone UTC"
