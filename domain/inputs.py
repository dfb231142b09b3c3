"""Rules every text and time the API takes must meet, shared by all request models and params.

- Text never holds NUL (``\\u0000``): PostgreSQL's ``text`` cannot store it, and no name, goal,
  id or expression needs it. :data:`Text` refuses it and says so in its JSON schema.
- Numbers and booleans in bodies are JSON numbers and booleans: no ``true`` for ``1``, no
  ``"5"`` for ``5`` (pydantic's lax mode takes both).
- Times are ISO 8601 strings (never Unix numbers) between :data:`MIN_INSTANT` and
  :data:`MAX_INSTANT`: Temporal's calendar specs take years 2000–2100 only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "MAX_INSTANT",
    "MIN_INSTANT",
    "NUL_FREE_PATTERN",
    "IsoDatetime",
    "JsonBool",
    "JsonInt",
    "JsonNumber",
    "Text",
    "check_instant",
    "check_no_nul",
    "checked_by",
    "iso_text",
]

NUL_FREE_PATTERN = "^[^\\u0000]*$"
NUL_MESSAGE = "must not contain NUL (\\u0000) characters"

# Temporal refuses calendar years outside 2000–2100 ("Year Start is not in range [2000-2100]").
MIN_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(2101, 1, 1, tzinfo=UTC)
TIME_RANGE_MESSAGE = "is outside 2000-01-01 to 2100-12-31 (UTC), the years Temporal schedules"

_ISO_DATE_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def check_no_nul(value: str) -> str:
    """Return ``value``; raise ValueError if it holds a NUL character."""
    if "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


class _NoNul:
    """Annotation: the string may not hold NUL, and its JSON schema's ``pattern`` says so."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(check_no_nul, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", NUL_FREE_PATTERN)
        return json_schema


NO_NUL = _NoNul()
Text = Annotated[str, NO_NUL]
"""A string without NUL: every string a request carries (body, query, path) is one."""


def iso_text(value: Any) -> Any:
    """Let only ISO 8601 strings through: no Unix numbers, no numeric strings."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE_START.match(value.strip()):
        raise ValueError("expected an ISO 8601 datetime string, e.g. 2030-01-05T09:30:00+01:00")
    check_no_nul(value)
    year = int(value.strip()[:4])
    if not MIN_INSTANT.year - 1 <= year <= MAX_INSTANT.year:
        # Refused before parsing: converting such a time between zones can overflow.
        raise ValueError(f"datetime {value} {TIME_RANGE_MESSAGE}")
    return value


IsoDatetime = Annotated[datetime, BeforeValidator(iso_text)]
"""A datetime given as an ISO 8601 string (naive or with an offset), years 1999–2101 at most;
:func:`check_instant` makes the exact check once the time is aware."""


def _json_number(value: Any) -> Any:
    """Let only JSON numbers through: pydantic alone takes ``true`` and ``"5"`` for numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_number)]
"""An integer given as a JSON number (``1`` or ``1.0``), never a boolean or a string."""
JsonNumber = Annotated[float, BeforeValidator(_json_number)]
"""A number given as a JSON number, never a boolean or a string."""
JsonBool = Annotated[bool, Strict()]
"""``true`` or ``false`` only (not ``1``, ``"yes"`` or ``"true"``)."""


def check_instant(value: datetime) -> datetime:
    """Return the aware ``value``; raise ValueError outside [MIN_INSTANT, MAX_INSTANT)."""
    if not MIN_INSTANT <= value < MAX_INSTANT:
        raise ValueError(f"{value.isoformat()} {TIME_RANGE_MESSAGE}")
    return value


def checked_by(check: Callable[[str], object], error: type[Exception]) -> AfterValidator:
    """A field validator that runs ``check`` on the text and reports its ``error`` as the
    field's own (a 422 naming the field, with the checker's message)."""

    def validate(value: str) -> str:
        try:
            check(value)
        except error as exc:
            raise ValueError(str(exc)) from None
        return value

    return AfterValidator(validate)
