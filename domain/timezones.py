"""IANA time zone names, checked against the same database Temporal loads."""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, available_timezones

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

__all__ = ["TimezoneError", "TimezoneName", "load_timezone"]


class TimezoneError(ValueError):
    """A time zone name that is not in the IANA database; the message is user-facing."""


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


@lru_cache(maxsize=1)
def _zones_by_lower_name() -> dict[str, str]:
    return {zone.lower(): zone for zone in _known_zones()}


def _suggestion(name: str) -> str | None:
    by_lower = _zones_by_lower_name()
    folded = name.strip().lower().replace(" ", "_")
    if folded in by_lower:
        return by_lower[folded]
    close = difflib.get_close_matches(folded, list(by_lower), n=1, cutoff=0.75)
    if close:
        return by_lower[close[0]]
    # "New York" or "Kolkata" alone: match the last part of a zone name.
    by_city = {zone.rsplit("/", 1)[-1].lower(): zone for zone in _known_zones()}
    city = difflib.get_close_matches(folded.rsplit("/", 1)[-1], list(by_city), n=1, cutoff=0.8)
    return by_city[city[0]] if city else None


@lru_cache(maxsize=512)
def load_timezone(name: str) -> ZoneInfo:
    """Load an IANA time zone by its exact name (``"UTC"`` included).

    Names are matched exactly, as Temporal's Go server does, so a name that only differs in case
    is refused rather than silently corrected.

    Args:
        name: An IANA name such as ``"America/New_York"``.

    Returns:
        The zone.

    Raises:
        TimezoneError: The name is not a known zone; the message suggests a close one.
    """
    if name not in _known_zones():
        suggestion = _suggestion(name)
        if suggestion is not None:
            raise TimezoneError(f"unknown timezone '{name}' — did you mean {suggestion}?")
        raise TimezoneError(
            f"unknown timezone '{name}': use an IANA name such as Europe/Paris, "
            "America/New_York or UTC"
        )
    return ZoneInfo(name)


def _known_name(name: str) -> str:
    try:
        load_timezone(name)
    except TimezoneError as error:
        raise ValueError(str(error)) from None
    return name


class _ZoneName:
    """Annotation: a known zone name; its JSON schema is one shared ``TimezoneName`` whose
    pattern lists every name."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            _known_name, handler(source), ref="TimezoneName"
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        target = handler.resolve_ref_schema(json_schema)
        # A pattern rather than an enum: the same set, but schema tools (fuzzers) do not take
        # each of ~600 names for a case of its own.
        names = "|".join(re.escape(zone) for zone in sorted(_known_zones()))
        target["pattern"] = f"^(?:{names})$"
        target["description"] = "An IANA time zone name, e.g. `Europe/Paris`, or `UTC`."
        target["examples"] = ["UTC", "Europe/Paris", "America/New_York"]
        return json_schema


TimezoneName = Annotated[str, _ZoneName()]
"""An IANA zone name, validated (with a did-you-mean message) when a model is built."""
