"""What ``/mcp`` decides before the SDK's transport reads a message (docs/api.md, "MCP at /mcp").

A failure of the HTTP request itself (its size, its media type) is answered in the API's error
body, as a 401, 405 or 415 is; a JSON body that is not a JSON-RPC request we serve gets a
JSON-RPC error. The transport would answer some of these otherwise: a body over its limit as a
plain-text 413, a JSON media type other than exactly ``application/json`` as a plain-text 400,
and a request whose ``id`` is not a string or an integer as a notification (a 202 with no
answer, since its models then read the message without its ``id``). So these are decided here.
"""

from __future__ import annotations

import json
import math
from http import HTTPStatus
from typing import Final

from mcp_types import INVALID_REQUEST, ErrorData, JSONRPCError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from api.core.errors import ServiceError

# The transport's own default, given to it too, so that its check never fires after ours.
MAX_BODY_BYTES: Final = 4 * 1024 * 1024


class PayloadTooLarge(ServiceError):
    code, status = "payload_too_large", 413


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request's body, refused as soon as it is known to be longer than ``limit`` bytes.

    Raises:
        PayloadTooLarge: Its ``Content-Length``, or what was read, is over ``limit``.
        starlette.requests.ClientDisconnect: The client went away while sending it.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is over {limit // (1024 * 1024)} MiB ({limit} bytes), "
        "the most /mcp reads: send a smaller JSON-RPC message"
    )


def invalid_request(message: str) -> Response:
    """A JSON-RPC ``-32600`` Invalid Request error with ``"id": null``, as HTTP 400 (the
    status the transport gives its own JSON-RPC errors about a message)."""
    error = JSONRPCError(
        jsonrpc="2.0", id=None, error=ErrorData(code=INVALID_REQUEST, message=message)
    )
    return Response(
        error.model_dump_json(by_alias=True, exclude_unset=True),
        status_code=HTTPStatus.BAD_REQUEST,
        media_type="application/json",
    )


def screen_message(raw: bytes) -> bytes | Response:
    """The body to hand the transport, or the JSON-RPC error that answers it instead.

    JSON-RPC 2.0: a request's ``id`` is a string or an integer; a number without a fractional
    part is an integer (``7.0`` is handed on as ``7``, and answered with ``"id": 7``), anything
    else (``null``, ``1.5``, ``true``, an object…) makes it an Invalid Request. An array (a
    JSON-RPC batch, which MCP does not have) is one too. A body that is not JSON at all is
    handed on unread: the transport answers its parse error (``-32700``).
    """
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        return raw
    if isinstance(message, list):
        return invalid_request(
            "Invalid Request: batches are not served; POST one JSON-RPC message at a time"
        )
    if not isinstance(message, dict) or "method" not in message or "id" not in message:
        return raw  # a notification, or not a request: the transport's to answer
    request_id = message["id"]
    if isinstance(request_id, str) or (
        isinstance(request_id, int) and not isinstance(request_id, bool)
    ):
        return raw
    if isinstance(request_id, float) and math.isfinite(request_id) and request_id.is_integer():
        return json.dumps({**message, "id": int(request_id)}).encode()
    return invalid_request("Invalid Request: a request's id must be a string or an integer")


def as_json_request(scope: Scope, body: bytes) -> None:
    """Give ``scope`` the headers of ``body`` as the transport reads them: the API took any JSON
    media type (``application/json`` or ``…+json``, docs/api.md "Errors"), the transport takes
    only ``application/json``."""
    kept = [
        (name, value)
        for name, value in scope["headers"]
        if name not in (b"content-type", b"content-length")
    ]
    scope["headers"] = [
        *kept,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
