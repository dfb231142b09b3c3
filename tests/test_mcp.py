"""The MCP server at /mcp through the SDK's own client over HTTP, against the app served by
uvicorn with a real worker and Temporal (docs/api.md, "MCP at /mcp")."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import httpx2
import pytest
import sqlalchemy as sa
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult
from temporalio.worker import Worker

from api.app import create_app
from api.core.index import incidents as index_incidents
from api.core.index.db import make_engine
from api.core.index.models import jobs
from api.core.settings import Settings
from api.deadline import RequestDeadline
from tests.helpers.served import minted_key, served
from tests.helpers.servers import Reply, ScriptedServer, serve

TOOLS = {
    "create_job",
    "list_jobs",
    "get_job",
    "update_job",
    "pause_job",
    "resume_job",
    "delete_job",
    "trigger_job",
    "list_runs",
    "get_run",
    "list_incidents",
    "ack_incident",
    "parse_schedule",
    "validate_schedule",
}
DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAILY = {"type": "cron", "expression": "0 9 * * *", "timezone": "Europe/Paris"}
HOURLY_NO_ZONE = {"type": "cron", "expression": "0 * * * *"}


@pytest.fixture
def base_url(settings: Settings, worker: Worker) -> Iterator[str]:
    with served(settings) as url:
        yield url


@asynccontextmanager
async def connected(base_url: str, key: str | None, mode: str = "legacy") -> AsyncIterator[Client]:
    """The SDK's client on /mcp, sending ``key`` as a Bearer token (none if None)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        transport = streamable_http_client(f"{base_url}/mcp", http_client=http)
        async with Client(transport, mode=mode) as client:
            yield client


def ok(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert isinstance(result.structured_content, dict)
    return result.structured_content


def failure(result: CallToolResult) -> dict[str, Any]:
    """The error body (docs/api.md, "Errors") a tool error carries."""
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    body: dict[str, Any] = json.loads(text)
    return body


def job(**fields: Any) -> dict[str, Any]:
    return {"name": "btc", "goal": "check BTC", "agent_id": "echo", "schedule": DAILY, **fields}


async def test_initialize_lists_every_tool_with_its_schema(
    base_url: str, settings: Settings
) -> None:
    key = await minted_key(settings, "alice")
    async with connected(base_url, key) as client:
        assert client.protocol_version == "2025-11-25"
        assert client.server_info is not None and client.server_info.name == "agent-scheduler"
        assert "parse_schedule" in (client.instructions or "")
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    create = tools["create_job"]
    assert {"name", "goal", "agent_id", "schedule"} <= set(create.input_schema["required"])
    assert create.input_schema["additionalProperties"] is False
    assert "parse_schedule" in (create.description or "")
    assert create.output_schema is not None and "next_run_at" in create.output_schema["properties"]
    update = tools["update_job"].input_schema
    assert update["required"] == ["job_id"] and "schedule" in update["properties"]
    assert tools["get_run"].input_schema["required"] == ["job_id", "run_id"]
    assert tools["list_jobs"].annotations is not None
    assert tools["list_jobs"].annotations.read_only_hint is True
    assert tools["delete_job"].annotations is not None
    assert tools["delete_job"].annotations.destructive_hint is True
    # The zone list (9 kB of pattern) is not in what an LLM reads; names are still checked.
    # (About 12.4 kB with alerts, deadlines, fallback agents, semantic only-news, schedule
    # exclusions, lists of cron expressions and schedule start/end.)
    assert len(json.dumps(create.input_schema)) < 12_500


async def test_create_trigger_and_follow_a_run_to_completed(
    base_url: str, settings: Settings
) -> None:
    key = await minted_key(settings, "alice")
    async with connected(base_url, key) as client:
        created = ok(await client.call_tool("create_job", job(goal="BTC is at 100k")))
        assert created["id"].startswith("job_") and created["status"] == "active"
        assert created["next_run_at"].endswith("+01:00") or created["next_run_at"].endswith(
            "+02:00"
        )
        job_id = created["id"]
        listed = ok(await client.call_tool("list_jobs", {}))
        assert listed["count"] == 1 and listed["jobs"][0]["id"] == job_id
        triggered = ok(await client.call_tool("trigger_job", {"job_id": job_id}))
        run_id = triggered["run_id"]
        deadline = time.monotonic() + 30
        while True:
            run = ok(await client.call_tool("get_run", {"job_id": job_id, "run_id": run_id}))
            if run["status"] != "running":
                break
            assert time.monotonic() < deadline, f"run still running: {run}"
            await asyncio.sleep(0.2)
        assert run["status"] == "completed" and run["output"] == "BTC is at 100k"
        assert run["trigger"] == "manual"
        runs = ok(await client.call_tool("list_runs", {"job_id": job_id}))
        assert [r["id"] for r in runs["runs"]] == [run_id]

        paused = ok(await client.call_tool("pause_job", {"job_id": job_id}))
        assert paused["status"] == "paused" and paused["paused_reason"] == "paused by user"
        resumed = ok(await client.call_tool("resume_job", {"job_id": job_id}))
        assert resumed["status"] == "active"
        updated = ok(
            await client.call_tool(
                "update_job",
                {
                    "job_id": job_id,
                    "name": "btc hourly",
                    "schedule": {"type": "cron", "expression": "0 * * * *"},
                },
            )
        )
        # A schedule without a timezone keeps the job's zone, as over REST.
        assert updated["name"] == "btc hourly"
        assert updated["schedule"]["timezone"] == "Europe/Paris"
        assert ok(await client.call_tool("delete_job", {"job_id": job_id})) == {
            "job_id": job_id,
            "deleted": True,
        }
        gone = failure(await client.call_tool("get_job", {"job_id": job_id}))
    assert gone == {"error": "not_found", "message": f"Job {job_id} not found", "status": 404}


async def test_another_owners_job_is_invisible(base_url: str, settings: Settings) -> None:
    alice, bob = await minted_key(settings, "alice"), await minted_key(settings, "bob")
    async with connected(base_url, alice) as client:
        job_id = ok(await client.call_tool("create_job", job()))["id"]
    async with connected(base_url, bob) as client:
        assert ok(await client.call_tool("list_jobs", {})) == {"jobs": [], "count": 0}
        for tool in ("get_job", "pause_job", "trigger_job", "delete_job", "list_runs"):
            body = failure(await client.call_tool(tool, {"job_id": job_id}))
            assert body["status"] == 404 and body["error"] == "not_found", tool
        body = failure(await client.call_tool("update_job", {"job_id": job_id, "name": "mine"}))
        assert body["message"] == f"Job {job_id} not found"
    async with connected(base_url, alice) as client:
        assert ok(await client.call_tool("get_job", {"job_id": job_id}))["name"] == "btc"


async def test_list_and_acknowledge_incidents(base_url: str, settings: Settings) -> None:
    alice, bob = await minted_key(settings, "alice"), await minted_key(settings, "bob")
    async with connected(base_url, alice) as client:
        job_id = ok(await client.call_tool("create_job", job()))["id"]
    engine = make_engine(settings.resolved_database_url)
    try:
        async with engine.begin() as conn:
            row = (await conn.execute(sa.select(jobs).where(jobs.c.id == job_id))).one()
            incident_id = await index_incidents.open_incident(
                conn, job=row, kind="failing", reason="on purpose", at=DAY, alerts=None
            )
    finally:
        await engine.dispose()
    async with connected(base_url, bob) as client:
        assert ok(await client.call_tool("list_incidents", {}))["count"] == 0
        body = failure(await client.call_tool("ack_incident", {"incident_id": incident_id}))
        assert body["status"] == 404
    async with connected(base_url, alice) as client:
        page = ok(await client.call_tool("list_incidents", {"status": "open", "kind": "failing"}))
        assert [incident["id"] for incident in page["incidents"]] == [incident_id]
        acked = ok(await client.call_tool("ack_incident", {"incident_id": incident_id}))
        assert acked["acked_by"] == "alice" and acked["status"] == "open"
        shown = ok(await client.call_tool("get_job", {"job_id": job_id}))
        assert [incident["id"] for incident in shown["open_incidents"]] == [incident_id]


async def test_bad_input_is_a_tool_error_naming_the_field(
    base_url: str, settings: Settings
) -> None:
    key = await minted_key(settings, "alice")
    async with connected(base_url, key) as client:
        body = failure(
            await client.call_tool(
                "create_job",
                job(schedule={"type": "cron", "expression": "0 9 * *", "timezone": "UTC"}),
            )
        )
        assert body["error"] == "validation_error" and body["status"] == 422
        assert [d["field"] for d in body["details"]] == ["schedule.expression"]
        assert body["message"].startswith("Invalid request: schedule.expression: ")
        # Refused by the service (not the model): the same message as over REST.
        unknown = failure(await client.call_tool("create_job", job(agent_id="nobody")))
        assert unknown["details"] == [
            {"field": "agent_id", "message": "unknown agent 'nobody' (configured: echo)"}
        ]
        fallback = failure(await client.call_tool("create_job", job(fallback_agent_ids=["echo"])))
        assert fallback["details"] == [
            {
                "field": "fallback_agent_ids.0",
                "message": "'echo' is the job's agent_id, not a fallback",
            }
        ]
        extra = failure(await client.call_tool("create_job", job(colour="red")))
        assert extra["details"] == [{"field": "colour", "message": "unknown field"}]
        missing = failure(await client.call_tool("get_job", {}))
        assert missing["details"] == [{"field": "job_id", "message": "Field required"}]
        zone = failure(
            await client.call_tool(
                "parse_schedule", {"text": "daily at 9", "timezone": "Mars/Base"}
            )
        )
        assert zone["details"][0]["field"] == "timezone"
        words = failure(await client.call_tool("parse_schedule", {"text": "whenever you like"}))
        assert words["details"][0]["field"] == "text"
        nope = failure(await client.call_tool("schedule_everything", {}))
        assert nope["error"] == "not_found" and "create_job" in nope["message"]
        assert ok(await client.call_tool("list_jobs", {})) == {"jobs": [], "count": 0}


async def test_parse_and_validate_schedule(base_url: str, settings: Settings) -> None:
    key = await minted_key(settings, "alice")
    async with connected(base_url, key) as client:
        parsed = ok(
            await client.call_tool("parse_schedule", {"text": "every weekday at 9am Pacific"})
        )
        assert parsed["schedule"] == {
            "type": "cron",
            "expression": "0 9 * * 1-5",
            "timezone": "America/Los_Angeles",
        }
        assert len(parsed["next_runs"]) == 3
        assert all(t[11:16] == "09:00" for t in parsed["next_runs"])
        assert parsed["confirmation"].startswith(parsed["human_readable"])
        assert parsed["next_runs"][0] in parsed["confirmation"]
        # What parse_schedule answers, create_job takes as is.
        created = ok(await client.call_tool("create_job", job(schedule=parsed["schedule"])))
        assert created["next_run_at"] == parsed["next_runs"][0]

        valid = ok(
            await client.call_tool(
                "validate_schedule",
                {"type": "every", "value": "7h", "timezone": "UTC", "count": 2},
            )
        )
        assert valid["valid"] is True and len(valid["next_runs"]) == 2
        invalid = ok(
            await client.call_tool("validate_schedule", {"type": "cron", "value": "0 0 32W * *"})
        )
        assert invalid["valid"] is False and "32W" in invalid["error"]
        # A whole schedule: the offset, exclusions and several expressions count.
        whole = ok(
            await client.call_tool(
                "validate_schedule",
                {
                    "schedule": {
                        "type": "cron",
                        "expression": ["0 18 L * *", "0 9 * * 2#2"],
                        "timezone": "UTC",
                        "exclude": {"holidays": "US"},
                    },
                    "count": 4,
                },
            )
        )
        assert whole["valid"] is True and len(whole["next_runs"]) == 4
        assert whole["description"].endswith("except on US holidays")


async def test_the_modern_protocol_without_a_handshake_works_too(
    base_url: str, settings: Settings
) -> None:
    key = await minted_key(settings, "alice")
    async with connected(base_url, key, mode="auto") as client:
        assert client.protocol_version == "2026-07-28"
        assert {tool.name for tool in (await client.list_tools()).tools} == TOOLS
        assert ok(await client.call_tool("list_jobs", {}))["count"] == 0


@pytest.mark.parametrize("key", [None, "sk_not_a_key"])
async def test_a_missing_or_invalid_key_is_refused(
    base_url: str, settings: Settings, key: str | None
) -> None:
    # The SDK's client stops at the 401 (it says no more than "Server returned an error
    # response"); the answer itself is the error body with its status.
    with pytest.raises(ExceptionGroup) as refused:
        async with connected(base_url, key) as client:
            await client.list_tools()
    assert refused.group_contains(MCPError)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    response = httpx.post(f"{base_url}/mcp", json=message, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    expected = "Invalid or revoked API key" if key else "Missing API key"
    assert response.json()["error"] == "unauthorized"
    assert response.json()["message"].startswith(expected)


async def test_what_is_not_a_json_post_is_refused(base_url: str, settings: Settings) -> None:
    key = await minted_key(settings, "alice")
    headers = {"Authorization": f"Bearer {key}"}
    response = httpx.get(f"{base_url}/mcp", headers=headers)
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"
    text = httpx.post(
        f"{base_url}/mcp", content=b"tools/list", headers={**headers, "content-type": "text/plain"}
    )
    assert text.status_code == 415 and text.json()["error"] == "unsupported_media_type"
    # JSON that is not JSON-RPC is the protocol's own error, which MCP clients read.
    broken = httpx.post(
        f"{base_url}/mcp",
        content=b"{not json",
        headers={**headers, "content-type": "application/json", "accept": "application/json"},
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == -32700


LIST_TOOLS = {"jsonrpc": "2.0", "method": "tools/list"}
# No version header: the handshake-era transport; 2026-07-28: the handshake-less one.
TRANSPORTS = [
    pytest.param({}, id="handshake"),
    pytest.param({"MCP-Protocol-Version": "2026-07-28"}, id="handshake-less"),
]


async def _post(
    base_url: str, key: str, content: bytes | AsyncIterator[bytes], **headers: str
) -> httpx.Response:
    """A raw POST to /mcp with ``key`` (JSON and accepting JSON unless ``headers`` say)."""
    sent = {
        "authorization": f"Bearer {key}",
        "content-type": "application/json",
        "accept": "application/json",
        **{name.replace("_", "-"): value for name, value in headers.items()},
    }
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(f"{base_url}/mcp", content=content, headers=sent)


def _assert_error_body(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "status"}
    assert body["error"] == error and body["status"] == status
    return body


def _assert_invalid_request(response: httpx.Response) -> None:
    """The JSON-RPC ``-32600`` error with ``"id": null`` (JSON-RPC 2.0, "Error object")."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"jsonrpc", "id", "error"}
    assert body["jsonrpc"] == "2.0" and body["id"] is None
    assert body["error"]["code"] == -32600
    assert body["error"]["message"].startswith("Invalid Request: ")


class TestBodySize:
    async def test_a_body_over_4_mib_is_a_413_in_the_error_body(
        self, base_url: str, settings: Settings
    ) -> None:
        key = await minted_key(settings, "alice")
        padding = "x" * (5 * 1024 * 1024)
        big = json.dumps({**LIST_TOOLS, "id": 1, "params": {"_meta": {"pad": padding}}})
        response = await _post(base_url, key, big.encode())
        body = _assert_error_body(response, 413, "payload_too_large")
        assert body["message"].startswith("The request body is over 4 MiB (4194304 bytes)")

    async def test_a_chunked_body_is_cut_at_4_mib(self, base_url: str, settings: Settings) -> None:
        key = await minted_key(settings, "alice")

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as read
            yield b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"pad": "'
            for _ in range(5):
                yield b"x" * (1024 * 1024)
            yield b'"}}'

        response = await _post(base_url, key, chunks())
        _assert_error_body(response, 413, "payload_too_large")

    async def test_a_body_of_4_mib_is_served(self, base_url: str, settings: Settings) -> None:
        key = await minted_key(settings, "alice")
        message = json.dumps({**LIST_TOOLS, "id": 1, "params": {"_meta": {"pad": ""}}})
        padding = "x" * (4 * 1024 * 1024 - len(message))
        body = message.replace('"pad": ""', f'"pad": "{padding}"').encode()
        assert len(body) == 4 * 1024 * 1024
        response = await _post(base_url, key, body)
        assert response.status_code == 200, response.text
        assert {tool["name"] for tool in response.json()["result"]["tools"]} == TOOLS


class TestMediaType:
    @pytest.mark.parametrize(
        "content_type", ["application/x+json", "Application/JSON; charset=utf-8"]
    )
    async def test_any_json_media_type_is_served(
        self, base_url: str, settings: Settings, content_type: str
    ) -> None:
        # JSON is application/json or …+json, as for REST (docs/api.md, "Errors").
        key = await minted_key(settings, "alice")
        message = json.dumps({**LIST_TOOLS, "id": "x-1"}).encode()
        response = await _post(base_url, key, message, content_type=content_type)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json()["id"] == "x-1" and len(response.json()["result"]["tools"]) == len(
            TOOLS
        )

    @pytest.mark.parametrize("content_type", ["application/jsonx", "application/xml", ""])
    async def test_another_media_type_is_a_415_in_the_error_body(
        self, base_url: str, settings: Settings, content_type: str
    ) -> None:
        key = await minted_key(settings, "alice")
        message = json.dumps({**LIST_TOOLS, "id": 1}).encode()
        response = await _post(base_url, key, message, content_type=content_type)
        body = _assert_error_body(response, 415, "unsupported_media_type")
        assert body["message"] == "Send the body as JSON (Content-Type: application/json)"


class TestRequestId:
    @pytest.mark.parametrize("transport", TRANSPORTS)
    @pytest.mark.parametrize("request_id", [None, 1.5, True, False, {"n": 1}, [1], 1e400])
    async def test_an_id_neither_string_nor_integer_is_an_invalid_request(
        self, base_url: str, settings: Settings, transport: dict[str, str], request_id: Any
    ) -> None:
        key = await minted_key(settings, "alice")
        message = json.dumps({**LIST_TOOLS, "id": request_id}).encode()
        _assert_invalid_request(await _post(base_url, key, message, **transport))

    @pytest.mark.parametrize(("sent", "answered"), [("7", 7), ("7.0", 7), ("7e0", 7), ('""', "")])
    async def test_a_string_or_integer_id_is_answered_with_it(
        self, base_url: str, settings: Settings, sent: str, answered: int | str
    ) -> None:
        key = await minted_key(settings, "alice")
        message = f'{{"jsonrpc": "2.0", "id": {sent}, "method": "tools/list"}}'.encode()
        response = await _post(base_url, key, message)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == answered and "result" in response.json()

    async def test_a_notification_is_still_accepted(
        self, base_url: str, settings: Settings
    ) -> None:
        key = await minted_key(settings, "alice")
        message = b'{"jsonrpc": "2.0", "method": "notifications/initialized"}'
        response = await _post(base_url, key, message)
        assert response.status_code == 202 and response.content == b""

    @pytest.mark.parametrize("transport", TRANSPORTS)
    @pytest.mark.parametrize(
        "batch",
        [[], [{**LIST_TOOLS, "id": 1}], [{**LIST_TOOLS, "id": None}, {**LIST_TOOLS, "id": 2}]],
    )
    async def test_a_batch_is_an_invalid_request(
        self, base_url: str, settings: Settings, transport: dict[str, str], batch: list[Any]
    ) -> None:
        key = await minted_key(settings, "alice")
        _assert_invalid_request(await _post(base_url, key, json.dumps(batch).encode(), **transport))


@pytest.fixture
def llm_server() -> Iterator[ScriptedServer]:
    yield from serve()


async def test_a_call_stuck_past_the_request_deadline_is_a_503_and_the_next_works(
    settings: Settings, worker: Worker, llm_server: ScriptedServer
) -> None:
    # An LLM that never answers, behind a parse the rules refuse; the deadline cut to 1 s.
    llm_server.script("/v1/chat/completions", Reply(delay=-1))
    settings.llm_base_url, settings.llm_model = f"{llm_server.url}/v1", "sched-1"
    app = create_app(settings)
    for middleware in app.user_middleware:
        if middleware.cls is RequestDeadline:
            middleware.kwargs["seconds"] = 1.0
    key = await minted_key(settings, "alice")
    headers = {"Authorization": f"Bearer {key}"}
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "parse_schedule", "arguments": {"text": "when the moon is full"}},
    }
    with served(settings, app) as base_url:
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10) as http:
            started = time.monotonic()
            stuck = await http.post("/mcp", json=call)
            assert stuck.status_code == 503 and time.monotonic() - started < 5
            assert stuck.json()["error"] == "unavailable"
            assert "no answer within 1 s" in stuck.json()["message"]
        llm_server.release.set()
        async with connected(base_url, key) as client:
            assert ok(await client.call_tool("list_jobs", {}))["count"] == 0
