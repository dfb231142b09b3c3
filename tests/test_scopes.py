"""Scopes on every route and MCP tool (docs/api.md, "Keys and scopes"), generated from the
app's OpenAPI document and the tool list so a new operation is covered at once: each declares
its scope, a ``read`` key is refused (403) every write route and tool, a ``write`` key every
admin route, and a key is never refused what its scope allows."""

from __future__ import annotations

import re
from typing import Any

from api.mcp.tools import TOOLS
from api.services.access import SCOPE_EXTENSION, SCOPES
from tests.helpers.api import Api, tool_error

# Operations that take no API key (their own proof of access, or none).
PUBLIC = {"GET /healthz", "POST /api/scheduler/hooks/{hook_id}"}


def _operations(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in api.app.openapi()["paths"].items()
        for method, operation in operations.items()
    ]


async def test_every_operation_declares_a_scope_and_a_narrower_key_is_refused(api: Api) -> None:
    keys = {scope: await api.headers("alice", scope=scope) for scope in SCOPES}
    scoped = 0
    for method, path, operation in _operations(api):
        name = f"{method} {path}"
        if not operation.get("security"):
            assert name in PUBLIC, f"{name} takes no API key: list it in PUBLIC or require one"
            continue
        needed = operation.get(SCOPE_EXTENSION)
        assert needed in SCOPES, f"{name} declares no scope ({SCOPE_EXTENSION})"
        if method == "GET" and path != "/api/scheduler/delivery/webhook-secret":
            assert needed in ("read", "admin"), name
        url = re.sub(r"\{[^}]+\}", "x", path)
        for scope in SCOPES:
            response = await api.http.request(method, url, headers=keys[scope])
            refused = SCOPES.index(scope) < SCOPES.index(needed)
            assert (response.status_code == 403) is refused, (name, scope, response.text)
            if refused:
                body = response.json()
                assert body["error"] == "forbidden", body
                assert f"'{needed}' scope" in body["message"], body
        scoped += 1
    assert scoped >= 40


async def test_a_read_key_calls_only_the_read_only_tools(api: Api) -> None:
    read = await api.headers("alice", scope="read")
    for name, spec in TOOLS.items():
        body = await tool_error(api, read, name, {})
        if spec.read_only:
            assert body.get("error") != "forbidden", (name, body)
        else:
            assert body["error"] == "forbidden" and body["status"] == 403, (name, body)
            assert "'write' scope" in body["message"], body
    assert {name for name, spec in TOOLS.items() if spec.read_only} >= {"list_jobs", "get_run"}
