"""Days a schedule does not fire: public holidays of a calendar (the ``holidays`` package).

A holiday calendar is named by an ISO country code, optionally with a subdivision: ``US``,
``GB-ENG``, ``DE-BY``. Its days are computed, with no I/O, per year; Temporal gets them as
exclude calendars for this year and the next ``HOLIDAY_YEARS_AHEAD`` years, which the tick
extends before fewer than ``HOLIDAY_YEARS_LEFT`` remain (docs/time.md, "Exclusions").
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays

__all__ = [
    "HOLIDAY_YEARS_AHEAD",
    "HOLIDAY_YEARS_LEFT",
    "check_holiday_calendar",
    "holiday_dates",
    "holiday_name",
]

HOLIDAY_YEARS_AHEAD = 5
HOLIDAY_YEARS_LEFT = 3


@lru_cache(maxsize=1)
def _supported() -> dict[str, list[str]]:
    return {
        code.upper(): list(subdivisions)
        for code, subdivisions in holidays.list_supported_countries().items()
    }


def check_holiday_calendar(name: str) -> str:
    """The canonical name of a holiday calendar (``us`` → ``US``, ``gb-eng`` → ``GB-ENG``).

    Raises:
        ValueError: No such country, or no such subdivision of it; the message says which
            are known.
    """
    country, _, subdivision = name.strip().partition("-")
    country = country.upper()
    supported = _supported()
    if country not in supported:
        raise ValueError(
            f"unknown holiday calendar '{name}': use an ISO country code, optionally with a "
            "subdivision, e.g. US, GB-ENG, DE-BY"
        )
    if not subdivision:
        return country
    known = {code.upper(): code for code in supported[country]}
    if subdivision.upper() not in known:
        listed = ", ".join(f"{country}-{code}" for code in supported[country][:20]) or "none"
        raise ValueError(
            f"unknown holiday calendar '{name}': {country} has no subdivision "
            f"'{subdivision}' (known: {listed})"
        )
    return f"{country}-{known[subdivision.upper()]}"


@lru_cache(maxsize=256)
def _holidays(name: str, year: int) -> dict[dt.date, str]:
    country, _, subdivision = name.partition("-")
    found = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    return {day: str(title) for day, title in found.items() if day.year == year}


def holiday_dates(name: str, year: int) -> frozenset[dt.date]:
    """The public holidays (observed days included) of a checked calendar in ``year``."""
    return frozenset(_holidays(name, year))


def holiday_name(name: str, day: dt.date) -> str | None:
    """The holiday's name on ``day`` in a checked calendar, or None."""
    return _holidays(name, day.year).get(day)
