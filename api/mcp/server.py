"""The MCP server at ``/mcp``: the tools of :mod:`api.mcp.tools` over the SDK's streamable HTTP
transport, in the API's own app, behind the same API keys.

Stateless, JSON answers: each POST carries one JSON-RPC message and gets its answer as one JSON
body, so any replica answers any call, and the API's request deadline applies as to any route.
There is no server-to-client stream: ``GET /mcp`` is a 405, as the transport allows. What the
endpoint checks before the transport reads a message is in :mod:`api.mcp.edge`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)
from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api.bodies import replaying
from api.core.errors import Forbidden, NotFound
from api.core.version import VERSION
from api.deps import admit, bearer_key, job_service, note_call, run_service
from api.errors import ErrorBody, error_body, error_response, invalid_body
from api.mcp.edge import (
    MAX_BODY_BYTES,
    PayloadTooLarge,
    as_json_request,
    read_body,
    screen_message,
)
from api.mcp.tools import TOOLS, Call, ToolSpec
from api.routing import JSON_ONLY, UnsupportedMediaType, is_json_media_type
from api.services.access import Caller
from api.state import AppState

log = logging.getLogger(__name__)

PATH = "/mcp"
# Where the endpoint leaves the caller (owner, key, scope, limits) for the tools (the request's
# ASGI scope).
CALLER_KEY = "agent_scheduler.caller"

INSTRUCTIONS = """\
agent-scheduler runs AI-agent jobs on a schedule, durably (on Temporal). A job is: ask agent \
`agent_id` to do `goal` on `schedule`, deliver the result to a channel if a condition holds, \
retry like a policy says. To schedule work the user describes in words: call parse_schedule, \
show its `confirmation` to the user, then create_job with that `schedule`. trigger_job runs a \
job now; follow the run with get_run. Errors carry the service's message and, for bad input, \
`details` naming each field: fix those fields and call again."""


def _compact(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema without what only bloats an LLM's context: the pattern listing
    every IANA zone name (about 9 kB; names are still checked, and refused with a message) and
    the no-NUL patterns of plain strings."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            kept = {k: walk(v) for k, v in node.items()}
            pattern = kept.get("pattern")
            if isinstance(pattern, str) and (
                pattern == "^[^\\u0000]*$" or pattern.startswith("^(?:Africa/")
            ):
                del kept["pattern"]
            return kept
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


def _tool(spec: ToolSpec) -> Tool:
    return Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=_compact(spec.args.model_json_schema()),
        output_schema=_compact(spec.output.model_json_schema(mode="serialization")),
        annotations=ToolAnnotations(
            title=spec.title,
            read_only_hint=spec.read_only,
            destructive_hint=spec.destructive,
            idempotent_hint=spec.idempotent,
            open_world_hint=False,
        ),
    )


LISTED = [_tool(spec) for spec in TOOLS.values()]
_INPUT_SCHEMAS = {tool.name: tool.input_schema for tool in LISTED}


def _failed(body: ErrorBody) -> CallToolResult:
    """A tool error (``isError``) whose text is the error body (docs/api.md, "Errors")."""
    text = json.dumps(body.model_dump(mode="json", exclude_none=True))
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


async def _answer(body: ErrorBody, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer the HTTP request itself with the error body (docs/api.md, "Errors"), before any
    MCP message is read."""
    response = error_response(body.status, body.error, body.message, body.details)
    await response(scope, receive, send)


def _caller(ctx: ServerRequestContext[Any, Any]) -> tuple[AppState, Caller]:
    request = ctx.request
    assert isinstance(request, Request), "tools are served over HTTP only"
    state: AppState = request.app.state.app
    return state, request.scope[CALLER_KEY]


async def _list_tools(
    _: ServerRequestContext[Any, Any], __: PaginatedRequestParams | None
) -> ListToolsResult:
    return ListToolsResult(tools=LISTED)


async def _call_tool(
    ctx: ServerRequestContext[Any, Any], params: CallToolRequestParams
) -> CallToolResult:
    spec = TOOLS.get(params.name)
    if spec is None:
        return _failed(error_body(NotFound(f"No tool {params.name!r}; tools: {', '.join(TOOLS)}")))
    raw: Mapping[str, Any] = params.arguments or {}
    state, caller = _caller(ctx)
    try:
        # A tool's scope (docs/api.md, "Keys and scopes"): read-only tools need ``read``,
        # the others ``write``.
        caller.require("read" if spec.read_only else "write")
        args = spec.args.model_validate(raw)
    except ValidationError as exc:
        return _failed(invalid_body(exc.errors()))
    except Forbidden as exc:
        return _failed(error_body(exc))
    sessions = state.read_sessions if spec.read_only else state.sessions
    try:
        now = datetime.now(UTC)  # one instant per call, as NowDep is one per request
        async with sessions() as session:
            jobs = job_service(state, session, caller, now)
            call = Call(
                jobs=jobs, runs=run_service(state, session, jobs), settings=state.settings, now=now
            )
            result = await spec.run(call, args, raw)
    except Exception as exc:  # noqa: BLE001 - every failure is answered as a tool error
        return _failed(error_body(exc))
    data = result.model_dump(mode="json")
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(data))], structured_content=data
    )


def build_server() -> Server[Any]:
    """The MCP server: the tools, listed with their schemas, and their calls."""
    return Server(
        "agent-scheduler",
        version=VERSION,
        title="agent-scheduler",
        instructions=INSTRUCTIONS,
        get_tool_input_schema=_INPUT_SCHEMAS.get,
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
    )


class McpEndpoint:
    """The ASGI app at ``/mcp``: the API key, media type and body size checked as for REST
    (answered in the error body of docs/api.md, "Errors"), the JSON-RPC request's ``id``
    checked (:func:`api.mcp.edge.screen_message`), then the SDK's transport. :meth:`running`
    must be entered in the app's lifespan."""

    def __init__(self) -> None:
        self.server = build_server()
        # No DNS-rebinding Host/Origin check: every call needs a Bearer key, which a page a
        # browser was lured to does not have (and the API runs behind any host name).
        self.manager = StreamableHTTPSessionManager(
            app=self.server,
            json_response=True,
            stateless=True,
            max_request_body_size=MAX_BODY_BYTES,
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The transport running, for the app's lifespan (once per endpoint).

        Its task group lives in a task of its own: a lifespan may be entered and left in
        different tasks (as test fixtures do), and a task group must not be.
        """
        started, stop = asyncio.Event(), asyncio.Event()

        async def serve() -> None:
            async with self.manager.run():
                started.set()
                await stop.wait()

        task = asyncio.create_task(serve(), name="mcp-transport")
        ready = asyncio.create_task(started.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            ready.cancel()
            task.result()  # it failed to start: raise why
        try:
            yield
        finally:
            stop.set()
            await task

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            response = error_response(
                405,
                "method_not_allowed",
                "POST JSON-RPC messages to /mcp (stateless streamable HTTP; no GET stream)",
                headers={"Allow": "POST"},
            )
            await response(scope, receive, send)
            return
        request = Request(scope, receive)
        state: AppState = request.app.state.app
        try:
            async with state.read_sessions() as session:
                caller = await admit(
                    state,
                    session,
                    bearer_key(request.headers.get("authorization")),
                    transport="mcp",
                )
        except Exception as exc:  # noqa: BLE001 - answered in the error body
            body = error_body(exc)
            await _answer(body, scope, receive, send)
            return
        if not is_json_media_type(request.headers.get("content-type")):
            body = error_body(UnsupportedMediaType(JSON_ONLY))
            await _answer(body, scope, receive, send)
            return
        note_call(request, caller.owner)
        try:
            raw = await read_body(request)
        except PayloadTooLarge as exc:
            # The connection stays open (the server drops the rest of the body): a client that
            # sends its whole body before it reads, as most do, then gets this answer, where
            # closing it would leave that client a broken connection.
            await _answer(error_body(exc), scope, receive, send)
            return
        except ClientDisconnect:
            return  # nobody to answer
        message = screen_message(raw)
        if isinstance(message, Response):
            await message(scope, receive, send)
            return
        as_json_request(scope, message)
        scope[CALLER_KEY] = caller
        await self.manager.handle_request(scope, replaying(message, receive), send)
