"""IANA time zone names, checked against the same database Temporal loads."""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator

from domain.inputs import NO_NUL

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


TimezoneName = Annotated[str, NO_NUL, AfterValidator(_known_name)]
"""An IANA zone name, validated (with a did-you-mean message) when a model is built."""
