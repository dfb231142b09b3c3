"""Bad input at the API's edge: every one is a clear 4xx in the error body of docs/api.md
("Errors"), on every index backend, and changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.app import create_app
from api.core.settings import Settings
from api.deps import MAX_OFFSET
from api.errors import add_exception_handlers
from api.services.idempotency import KEY_PATTERN as IDEMPOTENCY_KEY_PATTERN
from domain.inputs import NUL_FREE_PATTERN
from tests.helpers.api import JOBS, Api, create, job_body

API = "/api/scheduler"
NUL = "a\x00b"


def assert_invalid(response: Any, field: str) -> dict[str, Any]:
    """A 422 in the documented error body whose details name ``field`` (or a field inside it)."""
    assert response.status_code == 422, response.text
    body = dict(response.json())
    assert body["error"] == "validation_error" and body["status"] == 422, body
    fields = [d["field"] for d in body["details"]]
    assert any(f == field or f.startswith(f"{field}.") for f in fields), (field, body)
    return body


async def test_nul_in_any_body_string_is_a_422_naming_the_field(api: Api) -> None:
    alice = await api.headers("alice")
    cases: dict[str, dict[str, Any]] = {
        "name": {"name": NUL},
        "goal": {"goal": NUL},
        "agent_id": {"agent_id": NUL},
        "schedule.expression": {"schedule": {"type": "cron", "expression": "0 8 * * *\x00"}},
        "schedule.timezone": {
            "schedule": {"type": "cron", "expression": "0 8 * * *", "timezone": NUL}
        },
        "schedule.interval": {"schedule": {"type": "every", "interval": "30m\x00"}},
        "delivery.channel": {"delivery": {"channel": "webhook:https://example.com/\x00"}},
        "condition.expression": {"condition": {"expression": "ok\x00"}},
    }
    for field, overrides in cases.items():
        created = await api.http.post(JOBS, json=job_body(**overrides), headers=alice)
        body = assert_invalid(created, field)
        reason = "unknown timezone" if field == "schedule.timezone" else "NUL"
        assert any(reason in d["message"] for d in body["details"] if d["field"] == field), body
    job = await create(api, alice)
    for field, change in (("name", {"name": NUL}), ("goal", {"goal": NUL})):
        assert_invalid(await api.http.put(f"{JOBS}/{job['id']}", json=change, headers=alice), field)
    assert (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()["name"] == job["name"]
    listed = await api.http.get(JOBS, headers=alice)
    assert listed.json()["count"] == 1

    chains = f"{API}/chains"
    assert_invalid(
        await api.http.post(chains, json={"name": NUL, "jobs": [job["id"]]}, headers=alice), "name"
    )
    assert_invalid(
        await api.http.post(chains, json={"name": "c", "jobs": [NUL]}, headers=alice), "jobs.0"
    )
    edge = {"from": job["id"], "to": NUL, "type": "on_success"}
    assert_invalid(
        await api.http.post(
            chains, json={"name": "c", "jobs": [job["id"]], "edges": [edge]}, headers=alice
        ),
        "edges.0.to",
    )
    event = {"at": datetime.now(UTC).isoformat(), "kind": NUL}
    assert_invalid(
        await api.http.post(f"{API}/smart/activity", json={"events": [event]}, headers=alice),
        "events.0.kind",
    )
    assert_invalid(
        await api.http.post(f"{API}/parse-nl", json={"text": "every day\x00"}, headers=alice),
        "text",
    )


async def test_nul_in_a_path_id_or_query_is_a_422(api: Api) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    nul_id = "job_%00x"
    for url, field in (
        (f"{JOBS}/{nul_id}", "job_id"),
        (f"{JOBS}/{job['id']}/runs/run_%00", "run_id"),
        (f"{API}/chains/chain_%00", "chain_id"),
        (f"{API}/jobs/{nul_id}/stats", "job_id"),
        (f"{API}/stats?timezone=UTC%00", "timezone"),
        (f"{API}/smart/heatmap?timezone=%00", "timezone"),
        (f"{API}/validate?type=cron&value=*%00", "value"),
    ):
        assert_invalid(await api.http.get(url, headers=alice), field)
    assert_invalid(await api.http.post(f"{JOBS}/{nul_id}/trigger", headers=alice), "job_id")
    assert_invalid(await api.http.delete(f"{JOBS}/{nul_id}", headers=alice), "job_id")


async def test_activity_times_are_iso_strings_in_temporals_years(api: Api) -> None:
    alice = await api.headers("alice")
    url = f"{API}/smart/activity"
    for at in (
        1_700_000_000,
        "1700000000",
        0,
        True,
        "0001-01-01T00:00:00+05:00",
        "1970-01-01T00:00:00Z",
    ):
        response = await api.http.post(
            url, json={"events": [{"at": at, "kind": "x"}]}, headers=alice
        )
        assert_invalid(response, "events.0.at")
    heatmap = await api.http.get(f"{API}/smart/heatmap?days=365", headers=alice)
    assert heatmap.json()["total"] == 0
    ok = {"at": datetime.now(UTC).isoformat(), "kind": "x"}
    assert (await api.http.post(url, json={"events": [ok]}, headers=alice)).status_code == 201


async def test_list_offsets_and_limits_are_bounded_in_the_schema_and_answer_422(
    api: Api,
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    chain = await api.http.post(
        f"{API}/chains", json={"name": "c", "jobs": [job["id"]]}, headers=alice
    )
    assert chain.status_code == 201, chain.text
    lists = [
        JOBS,
        f"{JOBS}/{job['id']}/runs",
        f"{API}/chains",
        f"{API}/chains/{chain.json()['id']}/runs",
    ]
    for url in lists:
        for query, field in (
            ("offset=281613375932332900352", "offset"),
            (f"offset={MAX_OFFSET + 1}", "offset"),
            ("offset=-1", "offset"),
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("limit=-99999999999999999999999", "limit"),
        ):
            assert_invalid(await api.http.get(f"{url}?{query}", headers=alice), field)
        edge = await api.http.get(f"{url}?offset={MAX_OFFSET}&limit=200", headers=alice)
        assert edge.status_code == 200, edge.text
    schema = api.app.openapi()
    for url in lists:
        path = (
            url.removeprefix("")
            .replace(job["id"], "{job_id}")
            .replace(chain.json()["id"], "{chain_id}")
        )
        params = {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"]}
        assert params["offset"]["maximum"] == MAX_OFFSET and params["offset"]["minimum"] == 0
        assert params["limit"]["maximum"] == 200


async def test_null_for_a_field_that_cannot_be_null_is_a_422(api: Api) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    url = f"{JOBS}/{job['id']}"
    for field in (
        "name",
        "goal",
        "agent_id",
        "schedule",
        "timeout_seconds",
        "overlap",
        "enabled",
        "max_consecutive_failures",
    ):
        body = assert_invalid(await api.http.put(url, json={field: None}, headers=alice), field)
        assert body["details"][0]["message"] == "must not be null", body
        created = await api.http.post(JOBS, json=job_body(**{field: None}), headers=alice)
        assert_invalid(created, field)
    assert (await api.http.get(url, headers=alice)).json() == job
    # The fields that may be null still may: null removes them.
    cleared = await api.http.put(url, json={"delivery": None, "retry": None}, headers=alice)
    assert cleared.status_code == 200 and cleared.json()["delivery"] is None
    for field in ("name", "jobs", "edges"):
        body = {"name": "c", "jobs": [job["id"]], field: None}
        assert_invalid(await api.http.post(f"{API}/chains", json=body, headers=alice), field)
    schema = api.app.openapi()["components"]["schemas"]["JobUpdate"]["properties"]
    assert "anyOf" not in schema["name"] and "default" not in schema["name"]


async def test_at_times_past_temporals_last_year_are_refused_alike_everywhere(
    api: Api, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    too_late = [
        "2101-01-01T00:00:00Z",
        "2100-12-31T23:30:00-05:00",
        "2150-06-01T09:00:00",
        "9999-12-31T23:59:59-05:00",
    ]
    for when in too_late:
        schedule = {"type": "at", "datetime": when, "timezone": "America/New_York"}
        assert_invalid(
            await api.http.post(JOBS, json=job_body(schedule=schedule), headers=alice), "schedule"
        )
        validation = await api.http.get(
            f"{API}/validate",
            params={"type": "at", "value": when, "timezone": "America/New_York"},
            headers=alice,
        )
        assert validation.status_code == 200
        assert validation.json()["valid"] is False and "2100" in validation.json()["error"]
    job = await create(api, alice)
    late = {"type": "at", "datetime": "2101-01-01T00:00:00Z"}
    assert_invalid(
        await api.http.put(f"{JOBS}/{job['id']}", json={"schedule": late}, headers=alice),
        "schedule",
    )
    assert (await api.http.get(JOBS, headers=alice)).json()["count"] == 1
    # The last minute Temporal takes is accepted, and Temporal fires it then.
    last = {"type": "at", "datetime": "2100-12-31T23:59:00Z"}
    accepted = await api.http.post(JOBS, json=job_body(schedule=last), headers=alice)
    assert accepted.status_code == 201, accepted.text
    description = await temporal_client.get_schedule_handle(accepted.json()["id"]).describe()
    assert description.info.next_action_times == [datetime(2100, 12, 31, 23, 59, tzinfo=UTC)]


async def test_calendar_range_outside_temporals_years_is_a_422(api: Api) -> None:
    alice = await api.headers("alice")
    await create(api, alice, schedule={"type": "every", "interval": "1h"})
    url = f"{API}/calendar-data"
    for start, end, field in (
        ("9999-12-30T00:00:00", "9999-12-31T23:00:00", "start"),
        ("2100-12-30T00:00:00Z", "2101-01-02T00:00:00Z", "end"),
        ("0001-01-01T00:00:00+05:00", "0001-01-02T00:00:00Z", "start"),
        ("1700000000", "1700086400", "start"),
    ):
        response = await api.http.get(
            url,
            params={"start": start, "end": end, "timezone": "Pacific/Kiritimati"},
            headers=alice,
        )
        assert_invalid(response, field)
    edge = await api.http.get(
        url, params={"start": "2100-12-30T00:00:00Z", "end": "2100-12-31T23:00:00Z"}, headers=alice
    )
    assert edge.status_code == 200 and len(edge.json()["events"]) == 47


async def test_an_edited_schedule_without_a_timezone_keeps_the_jobs_zone(
    api: Api, temporal_client: Client
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)  # cron in America/New_York
    url = f"{JOBS}/{job['id']}"
    edited = await api.http.put(
        url, json={"schedule": {"type": "cron", "expression": "30 9 * * *"}}, headers=alice
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["schedule"]["timezone"] == "America/New_York"
    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert description.schedule.spec.time_zone_name == "America/New_York"
    fire = description.info.next_action_times[0].astimezone(ZoneInfo("America/New_York"))
    assert (fire.hour, fire.minute) == (9, 30)

    every = await api.http.put(
        url, json={"schedule": {"type": "every", "interval": 3600}}, headers=alice
    )
    assert every.json()["schedule"]["timezone"] == "America/New_York"

    # A naive one-off time is a wall time in the job's zone.
    wall = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=2)).replace(
        second=0, microsecond=0, tzinfo=None
    )
    at = await api.http.put(
        url, json={"schedule": {"type": "at", "datetime": wall.isoformat()}}, headers=alice
    )
    assert at.status_code == 200, at.text
    instant = wall.replace(tzinfo=ZoneInfo("America/New_York"))
    assert datetime.fromisoformat(at.json()["next_run_at"]) == instant
    assert at.json()["schedule"]["timezone"] == "America/New_York"
    description = await temporal_client.get_schedule_handle(job["id"]).describe()
    assert description.info.next_action_times == [instant]

    # A zone that is sent wins; create and /validate still default to UTC.
    utc = await api.http.put(
        url,
        json={"schedule": {"type": "cron", "expression": "0 8 * * *", "timezone": "UTC"}},
        headers=alice,
    )
    assert utc.json()["schedule"]["timezone"] == "UTC"
    fresh = await create(api, alice, schedule={"type": "cron", "expression": "0 8 * * *"})
    assert fresh["schedule"]["timezone"] == "UTC"
    validation = await api.http.get(
        f"{API}/validate", params={"type": "cron", "value": "0 8 * * *"}, headers=alice
    )
    assert datetime.fromisoformat(validation.json()["next_runs"][0]).utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "content",
    [
        b'{"name": "x",',
        b"not json",
        b'{"name": "\xff\xfe"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"timeout_seconds": NaN}',
        b"\xef\xbb\xbf{}",
    ],
    ids=["truncated", "text", "bad-utf8", "deep", "nan", "bom"],
)
async def test_a_body_that_is_not_json_is_one_400_on_every_body_route(
    api: Api, content: bytes
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    json_type = {**alice, "Content-Type": "application/json"}
    for method, url in (
        ("POST", JOBS),
        ("PUT", f"{JOBS}/{job['id']}"),
        ("POST", f"{API}/chains"),
        ("POST", f"{API}/smart/activity"),
        ("POST", f"{API}/parse-nl"),
    ):
        response = await api.http.request(method, url, content=content, headers=json_type)
        assert response.status_code == 400, (url, response.text)
        body = response.json()
        assert body["error"] == "bad_request" and body["status"] == 400, body
        assert "not" in body["message"] and "JSON" in body["message"] or "UTF-8" in body["message"]
    assert (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json() == job
    # Schema-invalid JSON stays a 422; a body of another type is a 415.
    assert_invalid(await api.http.post(JOBS, json={"name": 1}, headers=alice), "name")
    other = await api.http.post(
        JOBS, content=b"{}", headers={**alice, "Content-Type": "text/plain"}
    )
    assert other.status_code == 415 and other.json()["error"] == "unsupported_media_type"


async def test_an_undeclared_method_is_a_405_with_allow(api: Api) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    for method, url, allowed in (
        ("PATCH", JOBS, {"GET", "POST"}),
        ("DELETE", f"{JOBS}/{job['id']}/runs", {"GET"}),
        ("GET", f"{JOBS}/{job['id']}/trigger", {"POST"}),
        ("TRACE", f"{JOBS}/{job['id']}", {"GET", "PUT", "DELETE"}),
        ("HEAD", f"{JOBS}/{job['id']}", {"GET", "PUT", "DELETE"}),
    ):
        response = await api.http.request(method, url, headers=alice)
        assert response.status_code == 405, (method, url)
        assert set(response.headers["allow"].replace(" ", "").split(",")) == allowed
        if method != "HEAD":
            assert response.json() == {
                "error": "method_not_allowed",
                "message": "Method Not Allowed",
                "status": 405,
            }


async def test_parse_nl_refuses_times_temporal_cannot_schedule(api: Api) -> None:
    alice = await api.headers("alice")
    for text in ("on January 1 2150 at 9am", "in 90 years", "every 99999999999999999 minutes"):
        response = await api.http.post(f"{API}/parse-nl", json={"text": text}, headers=alice)
        body = assert_invalid(response, "text")
        assert "2100" in body["message"] or "100 years" in body["message"], body
    last = await api.http.post(
        f"{API}/parse-nl", json={"text": "at 9am on 31 December 2100"}, headers=alice
    )
    assert last.status_code == 200 and last.json()["schedule"]["datetime"] == "2100-12-31T09:00:00Z"


def _openapi() -> dict[str, Any]:
    return dict(create_app(Settings()).openapi())


def _strings(schema: Any, components: dict[str, Any], seen: set[str]) -> list[dict[str, Any]]:
    """Every string schema reachable from ``schema`` (through refs, unions, items, properties)."""
    if not isinstance(schema, dict):
        return []
    ref = schema.get("$ref")
    if ref is not None:
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        if name == "TimezoneName":
            return [components[name]]
        return _strings(components[name], components, seen)
    found = [schema] if schema.get("type") == "string" else []
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            found += _strings(part, components, seen)
    found += _strings(schema.get("items"), components, seen)
    for part in schema.get("properties", {}).values():
        found += _strings(part, components, seen)
    return found


def test_every_request_string_in_the_schema_refuses_nul() -> None:
    """The general rule, checked on the OpenAPI so a new field or parameter is covered."""
    document = _openapi()
    components = document["components"]["schemas"]
    unguarded = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            schemas = [(p["name"], p["schema"]) for p in operation.get("parameters", [])]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                schemas.append(("body", body["schema"]))
            for name, schema in schemas:
                for string in _strings(schema, components, set()):
                    if "enum" in string or "const" in string or "format" in string:
                        continue
                    if string.get("pattern") == NUL_FREE_PATTERN:
                        continue
                    if string is components["TimezoneName"]:
                        continue  # stricter: the zone names (refusing NUL, tested below)
                    if string.get("pattern") == IDEMPOTENCY_KEY_PATTERN:
                        continue  # stricter: printable ASCII (tests/test_idempotency.py)
                    unguarded.append(f"{method.upper()} {path} {name}: {string}")
    assert not unguarded, unguarded


def test_timezones_in_the_schema_are_exactly_the_known_zones() -> None:
    document = _openapi()
    zone = document["components"]["schemas"]["TimezoneName"]
    known = available_timezones() | {"UTC"}
    assert all(re.fullmatch(zone["pattern"], name) for name in known)
    for wrong in ("", "utc", "Europe/Pari", "America/New York", "UTC\x00", "Mars/Olympus"):
        assert not re.fullmatch(zone["pattern"], wrong)
    stats = document["paths"]["/api/scheduler/stats"]["get"]["parameters"]
    assert {p["name"]: p["schema"] for p in stats}["timezone"]["$ref"].endswith("/TimezoneName")


def test_every_route_taking_a_body_documents_its_400_and_415() -> None:
    document = _openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            documented = operation["responses"]
            if "requestBody" in operation:
                # A body that need not be JSON (a hook delivery takes text too) has no 400 or
                # 415 of ours to document.
                json_only = set(operation["requestBody"]["content"]) == {"application/json"}
                for status in ("400", "415", "422") if json_only else ("422",):
                    ref = documented[status]["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (method, path, status)
            for status, response in documented.items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["$ref"].endswith("/ErrorBody"), (method, path, status)


async def test_a_request_temporal_refuses_is_not_reported_as_temporal_down() -> None:
    """An INVALID_ARGUMENT is our validation's gap (it was the >2100 `at` case): a 500 that says
    so, never the 503 "Temporal is unavailable" that tells the caller to retry."""
    app = FastAPI()
    add_exception_handlers(app)

    @app.get("/refused")
    async def refused() -> None:
        raise RPCError(
            "Year Start is not in range [2000-2100]", RPCStatusCode.INVALID_ARGUMENT, b""
        )

    @app.get("/down")
    async def down() -> None:
        raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        refused_response = await http.get("/refused")
        down_response = await http.get("/down")
    assert refused_response.status_code == 500
    assert refused_response.json()["error"] == "internal_error"
    assert down_response.status_code == 503 and down_response.json()["error"] == "unavailable"


async def test_numbers_and_booleans_in_a_body_are_json_numbers_and_booleans(api: Api) -> None:
    """Found by schemathesis: `"max_consecutive_failures": false` made a job (as 0)."""
    alice = await api.headers("alice")
    job = await create(api, alice)
    for field, value in (
        ("max_consecutive_failures", False),
        ("timeout_seconds", True),
        ("timeout_seconds", "60"),
        ("enabled", 1),
        ("enabled", "true"),
        ("retry", {"max_attempts": True}),
        ("retry", {"base_delay": "5"}),
    ):
        created = await api.http.post(JOBS, json=job_body(**{field: value}), headers=alice)
        assert_invalid(created, field)
        updated = await api.http.put(f"{JOBS}/{job['id']}", json={field: value}, headers=alice)
        assert_invalid(updated, field)
    assert (await api.http.get(JOBS, headers=alice)).json()["count"] == 1
    ok = await api.http.put(
        f"{JOBS}/{job['id']}",
        json={"timeout_seconds": 60.0, "enabled": False, "retry": {"base_delay": 5}},
        headers=alice,
    )
    assert ok.status_code == 200 and ok.json()["timeout_seconds"] == 60, ok.text
