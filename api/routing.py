"""The route class of every API router: one reading of request bodies for all of them.

A body that is not JSON (bad syntax, not UTF-8, nested too deeply, ``NaN``) is a 400
``bad_request``; a body sent as another media type is a 415. Both before any validation, so
a 422 always means JSON that does not fit the schema.

Each operation also declares the scope of key it needs as its OpenAPI ``x-scope`` (docs/api.md,
"Keys and scopes"): given with ``openapi_extra``, else ``read`` for GET and ``write`` for any
other method; ``api.deps`` checks it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from email.message import Message
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from api.core.errors import BadRequest, ServiceError
from api.errors import BODY_RESPONSES
from api.services.access import SCOPE_EXTENSION


class UnsupportedMediaType(ServiceError):
    code, status = "unsupported_media_type", 415


JSON_ONLY = "Send the body as JSON (Content-Type: application/json)"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def parse_json_body(raw: bytes) -> Any:
    """The JSON value of a request body.

    Raises:
        BadRequest: The body is not UTF-8, not JSON, or nested too deeply to read.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"The request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"The request body is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:
        raise BadRequest(f"The request body is not JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("The request body is not JSON we read: it is nested too deeply") from None


def is_json_media_type(content_type: str | None) -> bool:
    """Whether a Content-Type is JSON: `application/json` or `application/…+json`."""
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class JsonRoute(APIRoute):
    """An API route whose JSON body, if it takes one, is read (strictly) before validation."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        extra = dict(kwargs.get("openapi_extra") or {})
        if SCOPE_EXTENSION not in extra:
            methods = {method.upper() for method in kwargs.get("methods") or ("GET",)}
            extra[SCOPE_EXTENSION] = "read" if methods <= {"GET", "HEAD"} else "write"
        kwargs["openapi_extra"] = extra
        super().__init__(path, endpoint, **kwargs)
        if self.body_field is not None:
            self.responses = {**BODY_RESPONSES, **self.responses}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def read_json_first(request: Request) -> Response:
            raw = await request.body()
            if raw:
                if not is_json_media_type(request.headers.get("content-type")):
                    raise UnsupportedMediaType(JSON_ONLY)
                # FastAPI's own ``request.json()`` then returns this value.
                request._json = parse_json_body(raw)
            return await handler(request)

        return read_json_first
