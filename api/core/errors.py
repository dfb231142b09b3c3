"""The service's plain error hierarchy: no FastAPI, so the worker side can raise it too.

Each error carries the HTTP status and code of docs/api.md, "Errors"; :mod:`api.errors` maps them to
responses.
"""

from __future__ import annotations

from pydantic import BaseModel


class FieldError(BaseModel):
    """One bad field of a 422."""

    field: str
    message: str


class ServiceError(Exception):
    """Base of the errors routes raise; each maps to one HTTP status."""

    code = "internal_error"
    status = 500

    def __init__(self, message: str, *, details: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(ServiceError):
    code, status = "bad_request", 400


class Unauthorized(ServiceError):
    code, status = "unauthorized", 401


class Forbidden(ServiceError):
    """The key may not do this: outside its scope, or past one of its limits."""

    code, status = "forbidden", 403


class RateLimited(ServiceError):
    """Too many requests with one key in the current window; ``retry_after`` seconds to wait."""

    code, status = "rate_limited", 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(ServiceError):
    code, status = "not_found", 404


class Conflict(ServiceError):
    code, status = "conflict", 409


class Invalid(ServiceError):
    """A 422 naming each bad field."""

    code, status = "validation_error", 422

    @classmethod
    def field(cls, field: str, message: str) -> Invalid:
        """A 422 about one field."""
        return cls(f"{field}: {message}", details=[FieldError(field=field, message=message)])


class Unavailable(ServiceError):
    code, status = "unavailable", 503
