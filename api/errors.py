"""The one place errors are mapped to HTTP (docs/api.md, "Errors"), and the OpenAPI
``responses=`` tables.

The errors themselves live in :mod:`api.core.errors`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from temporalio.service import RPCError, RPCStatusCode

from api.core.errors import FieldError, RateLimited, ServiceError

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Body of every error response."""

    error: str
    message: str
    status: int
    details: list[FieldError] | None = None


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code}
    for status, code in (
        (401, "unauthorized"),
        (403, "forbidden"),
        (404, "not_found"),
        (422, "validation_error"),
        (429, "rate_limited"),
        (503, "unavailable"),
    )
}
# Added (by ``api.routing.JsonRoute``) to every route that takes a body; 408 and 413 come from
# ``api.bodies.BodyGuard``.
BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "bad_request: the body is not JSON"},
    408: {"model": ErrorBody, "description": "request_timeout: the body did not arrive in time"},
    413: {"model": ErrorBody, "description": "payload_too_large: the body is over the limit"},
    415: {"model": ErrorBody, "description": "unsupported_media_type: the body is not JSON"},
}
# Added to the routes that can answer 409.
CONFLICT_RESPONSE: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "conflict"}
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[FieldError] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The JSON error body of docs/api.md, "Errors" (with ``headers``, e.g. a 405's ``Allow``)."""
    body = ErrorBody(error=code, message=message, status=status, details=details)
    extra = dict(headers or {})
    if status == 401:
        extra["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=extra or None
    )


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    # Discriminated unions add the tag to the path ("schedule.cron.expression"); users never
    # wrote it, so drop it.
    if len(parts) >= 2 and parts[0] == "schedule" and parts[1] in ("cron", "every", "at"):
        parts.pop(1)
    return ".".join(parts) or "body"


def _validation_details(errors: Sequence[Any]) -> list[FieldError]:
    details = []
    for err in errors:
        message = str(err.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            message = "unknown field"
        elif err.get("input", ...) is None and err.get("type") != "missing":
            message = "must not be null"
        details.append(FieldError(field=_field_path(tuple(err.get("loc", ()))), message=message))
    return details


def invalid_body(errors: Sequence[Any]) -> ErrorBody:
    """The 422 body of input that failed its model (pydantic's ``errors()``), naming each field.

    For a request's body or query, and for the arguments of an MCP tool.
    """
    details = _validation_details(errors)
    summary = "; ".join(f"{d.field}: {d.message}" for d in details[:5])
    return ErrorBody(
        error="validation_error", message=f"Invalid request: {summary}", status=422, details=details
    )


def error_body(exc: BaseException) -> ErrorBody:
    """The error body (docs/api.md, "Errors"): the one mapping, for HTTP responses and MCP tool
    errors.

    Temporal or the index unreachable is a 503; anything unexpected a 500 that says no more
    (and is logged).
    """
    if isinstance(exc, ServiceError):
        return ErrorBody(
            error=exc.code, message=exc.message, status=exc.status, details=exc.details
        )
    if isinstance(exc, RequestValidationError):
        return invalid_body(exc.errors())
    if isinstance(exc, RPCError):
        if exc.status == RPCStatusCode.NOT_FOUND:
            return ErrorBody(error="not_found", message="Not found in Temporal", status=404)
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            # Temporal is up and refused what we sent: input our validation let through (a
            # bug to fix there), not a reason to tell the caller to retry.
            log.error("Temporal refused a request: %s", exc.message)
            return ErrorBody(
                error="internal_error", message="Internal error: Temporal refused it", status=500
            )
        log.warning("Temporal call failed: %s (%s)", exc.message, exc.status)
        return ErrorBody(
            error="unavailable", message="Temporal is unavailable; try again shortly", status=503
        )
    if isinstance(exc, OperationalError | PoolTimeoutError):
        log.warning("index database unavailable: %s", exc)
        return ErrorBody(
            error="unavailable", message="The index database is unavailable", status=503
        )
    log.exception("unhandled error", exc_info=exc)
    return ErrorBody(error="internal_error", message="Internal error", status=500)


def _response_of(body: ErrorBody) -> JSONResponse:
    return error_response(body.status, body.error, body.message, body.details)


def _not_json(exc: RequestValidationError) -> str | None:
    """Why the body is not JSON, if that is what the error is about (FastAPI's own parse)."""
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            return str((err.get("ctx") or {}).get("error", "invalid JSON"))
    return None


def _allowed_methods(request: Request) -> list[str]:
    """Every method the OpenAPI document gives the request's path (Starlette names only the
    first matching route's, and each route has one method)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {method.upper() for method in operations}
    return sorted(methods)


def add_exception_handlers(app: FastAPI) -> None:
    """Register the mapping of every error to the error body of docs/api.md, "Errors"."""

    @app.exception_handler(ServiceError)
    @app.exception_handler(RPCError)
    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeoutError)
    @app.exception_handler(Exception)
    async def _mapped(_: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, RateLimited):
            body = error_body(exc)
            headers = {"Retry-After": str(exc.retry_after)}
            return error_response(body.status, body.error, body.message, headers=headers)
        return _response_of(error_body(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        if (reason := _not_json(exc)) is not None:
            return error_response(400, "bad_request", f"The request body is not JSON: {reason}")
        return _response_of(error_body(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(
            exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error"
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)
