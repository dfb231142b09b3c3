"""Words the natural-language schedule parser knows: vocabulary, typo repair and time zones.

Text is turned into a list of canonical tokens (``tokenize``): words become their canonical
spelling (``"Wednesdays"`` → ``"wed"``, ``"mins"`` → ``"minute"``), clock times become ``@HH:MM``
(``~HH:MM`` when no am/pm says which half of the day), ordinals ``#N``, dates ``%YYYY-MM-DD``
(year ``0000`` when none was written) and any zone ``Z`` (its name is returned separately).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from domain.timezones import _zones_by_lower_name

__all__ = ["NotASchedule", "Lexed", "ZONE_WORDS", "tokenize", "zone_words"]


class NotASchedule(ValueError):
    """User-facing reason the text was refused."""


DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTH_NAMES = (
    "january february march april may june july august september october november december"
).split()

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "forty": 40, "fortyfive": 45, "sixty": 60, "ninety": 90,
}  # fmt: skip
_ORDINAL_WORDS = {
    "first": 1, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "fifteenth": 15, "twentieth": 20,
}  # fmt: skip

# Spellings (lower case) → canonical token. Absent from here: words kept as they are (VOCAB).
ALIASES: dict[str, str] = {
    "secs": "second", "sec": "second", "seconds": "second", "s": "second",
    "mins": "minute", "min": "minute", "minutes": "minute", "minute": "minute", "m": "minute",
    "hrs": "hour", "hr": "hour", "hours": "hour", "h": "hour",
    "days": "day", "d": "day", "weeks": "week", "wk": "week", "wks": "week",
    "months": "month", "mo": "month", "years": "year", "yr": "year", "yrs": "year",
    "thru": "through", "til": "until", "till": "until", "upto": "until",
    "weekdays": "weekday", "workday": "weekday", "workdays": "weekday", "wkday": "weekday",
    "wkdays": "weekday", "weekends": "weekend", "everyday": "every day",
    "midday": "noon", "midnite": "midnight", "tmrw": "tomorrow", "tmr": "tomorrow",
    "tmrow": "tomorrow", "tonite": "tonight", "annually": "yearly", "nightly": "daily",
    "biweekly": "fortnightly", "fortnightly": "fortnightly", "hourly": "hourly",
    "oclock": "oclock", "o'clock": "oclock", "excluding": "except", "besides": "except",
    "excepting": "except", "skip": "except", "skipping": "except", "skips": "except",
    "final": "last", "penultimate": "penultimate", "unless": "unless", "if": "if",
    "whenever": "whenever", "provided": "provided", "only": "only", "for": "for",
    "tues": "tue", "weds": "wed", "thur": "thu", "thurs": "thu", "sept": "sep",
    "and": "and", "plus": "and", "or": "or", "every": "every", "each": "every",
    "per": "a", "once": "once", "twice": "twice", "timezone": "zone", "tz": "zone",
}  # fmt: skip
for _index, _name in enumerate(_DAY_NAMES):
    ALIASES[_name] = ALIASES[_name[:3]] = DAYS[_index]
for _index, _name in enumerate(_MONTH_NAMES):
    ALIASES[_name] = ALIASES[_name[:3]] = MONTHS[_index]
for _number, _value in _NUMBER_WORDS.items():
    ALIASES[_number] = str(_value)
for _number, _value in _ORDINAL_WORDS.items():
    ALIASES[_number] = f"#{_value}"
PLURAL_DAYS = {name + "s": DAYS[i] for i, name in enumerate(_DAY_NAMES)} | {
    short + "s": short for short in DAYS
}
ALIASES.update(PLURAL_DAYS)

# Words used by the grammar as they are.
VOCAB = frozenset(
    """a an at on in of to from between through until except but not other half quarter
    daily weekly monthly quarterly yearly hour day week month year second minute weekday weekend
    noon midnight morning afternoon evening night tonight today tomorrow next this coming after
    past now later starting start beginning last business work working office during time
    am pm hourly fortnightly within yesterday top zone before end holiday""".split()
)
# Words that carry no meaning for a schedule and are dropped without penalty.
FILLER = frozenset(
    """the please run it job task schedule scheduled me us remind send check do execute trigger
    fire go make let should will shall would can could be is are starting from that which
    then also exactly sharp around approximately about o my our""".split()
)
# Words typo repair may land on (long enough that a close match means something).
_REPAIRABLE = sorted({w for w in list(ALIASES) + list(VOCAB) if len(w) >= 4})

# Zone abbreviations and words → IANA names. Daylight/standard variants name the region's zone
# (a "PST" in July means the time in Los Angeles), which is what people mean by them.
ZONE_WORDS: dict[str, str] = {
    "utc": "UTC", "gmt": "UTC", "z": "UTC", "zulu": "UTC",
    "pt": "America/Los_Angeles", "pst": "America/Los_Angeles", "pdt": "America/Los_Angeles",
    "pacific": "America/Los_Angeles", "west coast": "America/Los_Angeles",
    "et": "America/New_York", "est": "America/New_York", "edt": "America/New_York",
    "eastern": "America/New_York", "east coast": "America/New_York",
    "ct": "America/Chicago", "cst": "America/Chicago", "cdt": "America/Chicago",
    "central": "America/Chicago",
    "mt": "America/Denver", "mst": "America/Denver", "mdt": "America/Denver",
    "mountain": "America/Denver",
    "akst": "America/Anchorage", "akdt": "America/Anchorage", "hst": "Pacific/Honolulu",
    "hawaii": "Pacific/Honolulu", "alaska": "America/Anchorage",
    "bst": "Europe/London", "uk": "Europe/London", "british": "Europe/London",
    "wet": "Europe/Lisbon", "west": "Europe/Lisbon",
    "cet": "Europe/Paris", "cest": "Europe/Paris", "eet": "Europe/Athens",
    "eest": "Europe/Athens", "msk": "Europe/Moscow",
    "ist": "Asia/Kolkata", "india": "Asia/Kolkata", "pkt": "Asia/Karachi",
    "jst": "Asia/Tokyo", "japan": "Asia/Tokyo", "kst": "Asia/Seoul", "korea": "Asia/Seoul",
    "sgt": "Asia/Singapore", "hkt": "Asia/Hong_Kong", "gst": "Asia/Dubai", "ict": "Asia/Bangkok",
    "wib": "Asia/Jakarta", "china": "Asia/Shanghai",
    "aest": "Australia/Sydney", "aedt": "Australia/Sydney", "acst": "Australia/Adelaide",
    "acdt": "Australia/Adelaide", "awst": "Australia/Perth", "nzst": "Pacific/Auckland",
    "nzdt": "Pacific/Auckland", "nzt": "Pacific/Auckland", "sast": "Africa/Johannesburg",
    "brt": "America/Sao_Paulo",
    # Cities people name that are not the last part of a zone name.
    "san francisco": "America/Los_Angeles", "sf": "America/Los_Angeles",
    "seattle": "America/Los_Angeles", "la": "America/Los_Angeles",
    "portland": "America/Los_Angeles",
    "nyc": "America/New_York", "ny": "America/New_York", "boston": "America/New_York",
    "washington": "America/New_York", "miami": "America/New_York", "atlanta": "America/New_York",
    "philadelphia": "America/New_York", "dallas": "America/Chicago", "houston": "America/Chicago",
    "austin": "America/Chicago", "bangalore": "Asia/Kolkata", "bengaluru": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata", "delhi": "Asia/Kolkata", "new delhi": "Asia/Kolkata",
    "beijing": "Asia/Shanghai", "osaka": "Asia/Tokyo", "munich": "Europe/Berlin",
    "frankfurt": "Europe/Berlin", "hamburg": "Europe/Berlin", "barcelona": "Europe/Madrid",
    "milan": "Europe/Rome", "geneva": "Europe/Zurich", "st petersburg": "Europe/Moscow",
    "tel aviv": "Asia/Jerusalem", "manchester": "Europe/London", "edinburgh": "Europe/London",
}  # fmt: skip
# Last parts of zone names that are ordinary words, never taken as a city.
_NOT_CITIES = frozenset(
    """act center christmas easter north south west wake midway jersey virgin oral resolute
    reunion stanley knox yap nome regina victoria norfolk currie lindeman queensland tasmania
    nsw johnston creston beulah thule truk atka cocos canary chagos mahe""".split()
)
_ZONE_REGIONS = ("africa/", "america/", "asia/", "atlantic/", "australia/", "europe/", "indian/")


@lru_cache(maxsize=1)
def _place_names() -> dict[str, str]:
    """Every word or phrase naming a zone ("tokyo", "new york", "pst") → IANA name."""
    places: dict[str, str] = {}
    for lower, zone in sorted(_zones_by_lower_name().items(), key=lambda item: len(item[0])):
        if lower.startswith(_ZONE_REGIONS) or lower.startswith("pacific/"):
            city = lower.rsplit("/", 1)[-1].replace("_", " ")
            if city not in _NOT_CITIES:
                places.setdefault(city, zone)
    places.update(ZONE_WORDS)
    return places


def zone_words(zone: str) -> str:
    """The zone as people say it: "Pacific Time", "UTC", or "Europe/London time"."""
    return _ZONE_SAYINGS.get(zone, f"{zone} time")


_ZONE_SAYINGS = {
    "UTC": "UTC",
    "America/Los_Angeles": "Pacific Time",
    "America/New_York": "Eastern Time",
    "America/Chicago": "Central Time",
    "America/Denver": "Mountain Time",
}

_TOKEN = re.compile(
    r"""
    (?P<iana>[a-z]+(?:/[a-z0-9_+\-]+)+)
    |(?P<iso>(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})
        (?:t(?P<ih>\d{1,2}):(?P<imin>\d{2})(?::\d{2})?z?)?)
    |(?P<slash>(?P<s1>\d{1,2})/(?P<s2>\d{1,2})(?:/(?P<s3>\d{2}|\d{4}))?)(?![\d/])
    |(?P<clock>(?P<ch>\d{1,2})(?::|\.(?=\d{2}\s*[ap]m))(?P<cm>\d{2})(?::\d{2})?)
        (?:\s*(?P<campm>[ap])m\b)?
    |(?P<hampm>\d{1,2})\s*(?P<ampm>[ap])m\b
    |(?P<ord>\d{1,3})(?:st|nd|rd|th)\b
    |(?P<dur>(?:\d+(?:\.\d+)?(?:hrs|hr|h|mins|min|m|secs|sec|s|d)){1,3})\b
    |(?P<num>\d+(?:\.\d+)?)
    |:(?P<colonmin>\d{2})\b
    |(?P<offset>(?:utc|gmt)\s*(?P<osign>[+-])\s*(?P<oh>\d{1,2})(?::?(?P<om>\d\d))?)\b
    |(?P<word>[a-z]+(?:'[a-z]+)?)
    |(?P<dash>[-–—])
    |(?P<amp>[&+])
    |(?P<comma>[,;])
    """,
    re.VERBOSE,
)
_DUR_PART = re.compile(r"(\d+(?:\.\d+)?)([a-z]+)")
_DOTS = re.compile(r"\b([ap])\.m\.?")
_SPACES = re.compile(r"\s+")


@dataclass
class Lexed:
    tokens: list[str] = field(default_factory=list)
    zone: str | None = None
    typos: int = 0
    unknown: int = 0
    plural_days: bool = False
    ambiguous_date: bool = False


def _clock(hour: int, minute: int, ampm: str | None, raw: str) -> str:
    if minute > 59:
        raise NotASchedule(f"'{raw}' is not a time of day: minutes go up to 59")
    if ampm is not None:
        if not 1 <= hour <= 12:
            raise NotASchedule(f"'{raw}' is not a time of day: with am/pm the hour is 1–12")
        hour = hour % 12 + (12 if ampm == "p" else 0)
        return f"@{hour:02d}:{minute:02d}"
    if hour > 24 or (hour == 24 and minute):
        raise NotASchedule(f"'{raw}' is not a time of day: hours go up to 23")
    hour %= 24
    # "9:30" could be morning or evening; "09:30", "21:30", "0:15" and "12:00" say which.
    ambiguous = 1 <= hour <= 11 and not raw.startswith("0")
    return f"{'~' if ambiguous else '@'}{hour:02d}:{minute:02d}"


@lru_cache(maxsize=4096)
def _word(word: str) -> tuple[str, bool]:
    """Canonical spelling of one word and whether it was a typo repair ("" = dropped)."""
    if word in ALIASES:
        return ALIASES[word], False
    if word in VOCAB:
        return word, False
    if word in FILLER:
        return "", False
    if word.endswith("s") and word[:-1] in VOCAB:
        return word[:-1], False
    if len(word) >= 4:
        close = difflib.get_close_matches(word, _REPAIRABLE, n=1, cutoff=0.8)
        if close:
            return _word(close[0])[0], True
    return "?" + word, False


def _set_zone(lexed: Lexed, zone: str, raw: str) -> None:
    if lexed.zone is not None and lexed.zone != zone:
        raise NotASchedule(f"two different time zones in the text ({lexed.zone} and {raw})")
    lexed.zone = zone


def tokenize(text: str) -> Lexed:
    """Canonical tokens of the text; raises NotASchedule for impossible clock times."""
    lowered = _DOTS.sub(r"\1m", _SPACES.sub(" ", text.strip().lower()))
    lexed = Lexed()
    out = lexed.tokens
    words: list[str] = []
    for match in _TOKEN.finditer(lowered):
        kind = match.lastgroup
        raw = match.group(0)
        if match.group("iana") is not None:
            zone = _zones_by_lower_name().get(raw)
            if zone is None:
                raise NotASchedule(f"unknown time zone '{raw}'")
            _set_zone(lexed, zone, raw)
            out.append("Z")
        elif match.group("iso") is not None:
            year, month, day = int(match["iy"]), int(match["im"]), int(match["id"])
            out.append(f"%{year:04d}-{month:02d}-{day:02d}")
            if match["ih"] is not None:
                out.append(_clock(int(match["ih"]), int(match["imin"]), None, "0" + raw))
        elif match.group("slash") is not None:
            first, second = int(match["s1"]), int(match["s2"])
            year = int(match["s3"]) if match["s3"] else 0
            if 0 < year < 100:
                year += 2000
            month, day = first, second  # US order unless that cannot be a date
            if month > 12 and day <= 12:
                month, day = day, month
            elif month <= 12 and day <= 12 and month != day:
                lexed.ambiguous_date = True
            out.append(f"%{year:04d}-{month:02d}-{day:02d}")
        elif match.group("clock") is not None:
            out.append(_clock(int(match["ch"]), int(match["cm"]), match["campm"], raw))
        elif match.group("hampm") is not None:
            out.append(_clock(int(match["hampm"]), 0, match["ampm"], raw))
        elif match.group("offset") is not None:
            hours = int(match["oh"])
            if (match["om"] and int(match["om"])) or hours > 14:
                raise NotASchedule(f"'{raw}': name the zone instead (e.g. Asia/Kolkata)")
            # IANA's Etc zones count the other way: UTC+2 is Etc/GMT-2.
            name = "UTC" if hours == 0 else f"Etc/GMT{'-' if match['osign'] == '+' else '+'}{hours}"
            if name not in _zones_by_lower_name().values():
                raise NotASchedule(f"'{raw}' is not a UTC offset a zone has")
            _set_zone(lexed, name, raw)
            out.append("Z")
        elif match.group("ord") is not None:
            out.append(f"#{int(match['ord'])}")
        elif match.group("dur") is not None:
            for amount, unit in _DUR_PART.findall(raw):
                out.extend((amount, ALIASES[unit]))
        elif match.group("num") is not None:
            out.append(raw)
        elif match.group("colonmin") is not None:
            out.append(f":{match['colonmin']}")
        elif kind == "word":
            out.append("\x00" + raw)  # words are resolved below, after zone phrases
            words.append(raw)
        elif kind == "dash":
            out.append("-")
        elif kind == "amp":
            out.append("and")
        elif kind == "comma":
            out.append(",")
    if words:
        _resolve_words(lexed)
    return lexed


def _resolve_words(lexed: Lexed) -> None:
    places = _place_names()
    raw = lexed.tokens
    out: list[str] = []
    i = 0
    while i < len(raw):
        token = raw[i]
        if not token.startswith("\x00"):
            out.append(token)
            i += 1
            continue
        # Longest place name first: "new york", "los angeles", "east coast", "pst".
        for size in (3, 2, 1):
            parts = raw[i : i + size]
            if len(parts) == size and all(p.startswith("\x00") for p in parts):
                phrase = " ".join(p[1:] for p in parts)
                zone = places.get(phrase)
                if zone is not None:
                    _set_zone(lexed, zone, phrase)
                    out.append("Z")
                    i += size
                    break
        else:
            word = token[1:]
            if word in PLURAL_DAYS:
                lexed.plural_days = True
            canonical, repaired = _word(word)
            if repaired:
                lexed.typos += 1
                if canonical in PLURAL_DAYS.values() and word.endswith("s"):
                    lexed.plural_days = True
            if canonical:
                out.extend(canonical.split())
            i += 1
    lexed.tokens = out
