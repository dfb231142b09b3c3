"""Rules of the natural-language parser: slots are taken out of the canonical token string.

The lexicon turns the text into canonical tokens joined by spaces ("every 15 minute between 9
and 5 on weekday"); each rule of ``RULES`` is a precompiled regex over that string and an action
that fills a slot (interval, window, times, days, days of month, months, dates, relative
one-offs) or refuses the text, and the words it used are blanked. ``extract`` runs the rules in
order, then fills the defaults the slots imply; words left over lower the confidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from domain.nl.lexicon import DAYS, MONTHS, NotASchedule
from domain.schedules import AtSchedule, CronSchedule, EverySchedule

__all__ = ["AnySchedule", "Slots", "UNIT_SECONDS", "extract", "ordinal"]

AnySchedule = CronSchedule | EverySchedule | AtSchedule

_DAY = r"(?:sun|mon|tue|wed|thu|fri|sat)"
_MON = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
_SEP = r"(?: ,)?(?: and| or)?"
_RANGE = r"(?:-|to|through|until)"
_TIME = r"(?:[@~]\d\d:\d\d|noon|midnight)"
_HOUR = rf"(?:{_TIME}|\d{{1,2}})"
_UNIT = r"(?:second|minute|hour|day|week|month|year)"
_AMOUNT = r"(?:\d+(?:\.\d+)?|an?|half an?|#\d+)"
_REL = rf"{_AMOUNT} {_UNIT}(?: and a half)?(?:(?: ,)?(?: and)? {_AMOUNT} {_UNIT})*"
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_PERIOD_WORDS = {
    "hourly": (1, "hour"),
    "daily": (1, "day"),
    "weekly": (1, "week"),
    "fortnightly": (2, "week"),
    "monthly": (1, "month"),
    "quarterly": (3, "month"),
    "yearly": (1, "year"),
}
_PART_OF_DAY = {"morning": 9, "afternoon": 15, "evening": 18, "night": 21}


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_ZONE_PHRASE = _c(r"(?:\b(?:in|at) )?\bZ(?: time)?(?: zone)?\b|\b(?:local|my) time(?: zone)?\b")
_BUSINESS_DAYS = _c(r"\b(?:business|work|working) day\b")
_NEGATIVE = _c(r"\b(?:every|in) - \d")
_PART = _c(r"(?:\b(?:in|at|this|every) )?\b(morning|afternoon|evening|night)\b")
_OCLOCK = _c(r"\b(\d{1,2}) oclock\b")
_IN_REL = _c(rf"\bin ({_REL})\b")
_REL_FROM_NOW = _c(rf"\b({_REL}) (?:from now|later)\b")
_REL_PART = _c(rf"({_AMOUNT}) ({_UNIT})( and a half)?")
_DAY_AFTER = _c(r"\b(?:on )?day after tomorrow\b")
_TOMORROW = _c(r"\b(?:on )?(tomorrow|today|tonight)\b")
_NEXT_DAY = _c(rf"\b(?:on )?(next|this|coming) ({_DAY})\b")
_ISO_DATE = _c(r"(?:\bon )?%(\d{4})-(\d\d)-(\d\d)")
_MONTH_DAY = _c(rf"(?:\bon )?\b({_MON})(?: ,)? #?(\d{{1,3}})\b(?:(?: ,)? (\d{{4}})\b)?")
_DAY_MONTH = _c(
    rf"(?:\bon )?(?:#|\b)(\d{{1,3}}) (?:day )?(?:of )?({_MON})\b(?:(?: ,)? (\d{{4}})\b)?"
)
_MONTH_TAIL = r"(?: (?:of|in) (?:every |a )?month\b)"
_LAST_DAY = _c(
    rf"(?:\bon )?(?:\blast (day|weekday)\b({_MONTH_TAIL})?|\bend of (?:every |a )?month\b)"
)
_LAST_DOW = _c(rf"(?:\bon )?\blast ({_DAY})\b({_MONTH_TAIL})?")
_NTH_WEEKDAY = _c(rf"(?:\bon )?(?:#(\d)|\b(second)) ({_DAY})(?: (?:of|in) (?:every |a )?month)?")
_BUSINESS_HOURS = _c(r"(?:\b(?:during|in|within) )?\b(?:business|work|working|office) hour\b")
_WINDOW = _c(rf"\b(?:between|from) ({_HOUR}) (?:and|{_RANGE}) ({_HOUR})\b")
_BARE_WINDOW = _c(rf"(?<![\d:])\b({_HOUR}) - ({_HOUR})\b")
_START = _c(rf"\b(?:starting|start|beginning|from)(?: at| from)? ({_HOUR})\b")
_EVERY_OTHER_DAY_NAME = _c(rf"\bevery other ({_DAY})\b")
_INTERVAL = _c(
    rf"\bevery (?:(other|\d+(?:\.\d+)?|#\d+|half an?|half|quarter|a) )?({_UNIT})"
    rf"(?:(?: and)? (\d+) (minute|second))?\b"
)
_BARE_INTERVAL = _c(rf"(?<![\w#@~:.])(\d+(?:\.\d+)?) ({_UNIT})\b")
_PERIOD = _c(r"\b(hourly|daily|weekly|fortnightly|monthly|quarterly|yearly)\b")
_PER = _c(r"\b(?:(once|twice) )?(?:a|an|per|every) (hour|day|week|month|year)\b")
_MINUTE_PAST = _c(
    r"(?:\bat )?(?:(\d{1,2}) (?:minute )?|(quarter|half) )(?:past|after)(?: (?:every |a )?hour)?\b"
    r"|(?:\bat |\bon )?(?<![\d@~]):(\d\d)\b|\b(?:on|at|top of) hour\b"
)
_T_ANY = rf"(?:{_TIME}|\d{{1,2}}\b(?! (?:minute|hour|second|day|week|month|year)))"
_TIMES_AT = _c(rf"\b(?:at|@) ({_T_ANY}(?:{_SEP} (?:at )?{_T_ANY})*)")
_TIMES = _c(rf"(?:\bat )?({_TIME}(?:{_SEP} (?:at )?{_T_ANY})*)")
_ONE_TIME = _c(_T_ANY)
_DAY_ITEM = rf"(?:between {_DAY} and {_DAY}|{_DAY} {_RANGE} {_DAY}|{_DAY}|weekday|weekend)"
_DAY_LIST = rf"{_DAY_ITEM}(?:{_SEP} {_DAY_ITEM})*"
_EXCEPT = _c(rf"\b(?:except|but not|not on|other than)(?: on)? ({_DAY_LIST})\b")
_DAYS = _c(rf"(?:\b(?:every|on) )?\b({_DAY_LIST})\b")
_DOM_ITEM = r"#\d{1,3}(?: (?:-|to|through|until) #\d{1,3})?"
_DOM = _c(
    rf"(?:\bon )?(?:\b(between )?day (\d{{1,3}}(?:(?: ,)?(?: and| or| -| to| through)? \d{{1,3}})*)"
    rf"|({_DOM_ITEM}(?:{_SEP} {_DOM_ITEM})*)(?: day)?)"
    r"(?:(?: of| in)?(?: every| a)? month)?(?:\b|(?<=#\d))"
)
_MONTH_ITEM = rf"(?:{_MON} {_RANGE} {_MON}|{_MON})"
_MONTHS_RE = _c(rf"(?:\b(?:in|during|every|of|on) )?\b({_MONTH_ITEM}(?:{_SEP} {_MONTH_ITEM})*)\b")
_TONIGHT = _c("tonight")
# Qualifiers: conditions (refused), bounds (start_at / end_at), exclusions and restrictions.
_CONDITION = _c(r"\b(unless|if|whenever|provided)\b")
_PENULTIMATE = _c(
    rf"(?:\bon )?\b(?:penultimate|(?:second|next)(?: -)? to(?: -)? last|last but (?:1|one))\b"
    rf"(?: ({_DAY}|day|weekday)\b)?({_MONTH_TAIL})?"
)
_BOUND_DATE = (
    rf"(?:%\d{{4}}-\d\d-\d\d(?: [@~]\d\d:\d\d)?"
    rf"|{_MON}(?: ,)? #?\d{{1,2}}\b(?:(?: ,)? \d{{4}}\b)?"
    rf"|#?\d{{1,2}} (?:day )?(?:of )?{_MON}\b(?:(?: ,)? \d{{4}}\b)?|tomorrow|today)"
)
_FOR_NEXT = _c(rf"\bfor (?:next |coming )?({_AMOUNT}) (minute|hour|day|week|month|year)\b")
_BOUND_RANGE = _c(
    rf"\b(?:from|between|starting) ({_BOUND_DATE}) (?:to|until|through|and|-) "
    rf"(?:(end of) )?({_BOUND_DATE})(?!\w)"
)
_NOT_A_MONTH_RANGE = "".join(f"(?<!{month} )" for month in MONTHS)
_UNTIL = _c(
    rf"{_NOT_A_MONTH_RANGE}\b(until|through|before) (?:on )?(?:(end of) )?"
    rf"(?:({_BOUND_DATE})(?!\w)|({_MON})(?: (\d{{4}}))?\b(?!(?: ,)? #?\d))"
)
_STARTING = _c(
    rf"\b(?:starting|beginning|from|start|effective)(?: on| from)? ({_BOUND_DATE})(?!\w)"
)
_YEAR_DATE = (
    rf"(?:%(?!0000)\d{{4}}-\d\d-\d\d|{_MON}(?: ,)? #?\d{{1,2}}(?: ,)? \d{{4}}\b"
    rf"|#?\d{{1,2}} (?:day )?(?:of )?{_MON}(?: ,)? \d{{4}}\b)"
)
_EXCEPT_DATES = _c(
    rf"\b(?:except|but not|not on|other than)(?: on)? "
    rf"({_YEAR_DATE}(?:{_SEP} (?:on )?{_YEAR_DATE})*)"
)
_EXCEPT_MONTHS = _c(
    rf"\b(?:except|but not|not|other than)(?: in| during| on)? "
    rf"({_MONTH_ITEM}(?:{_SEP} {_MONTH_ITEM})*)\b(?!(?: ,)? #?\d)"
)
_ONLY_DAYS = _c(rf"\bonly (?:on )?({_DAY_LIST})\b")
_ONLY_MONTHS = _c(
    rf"\bonly (?:in |during )?({_MONTH_ITEM}(?:{_SEP} {_MONTH_ITEM})*)\b(?!(?: ,)? #?\d)"
)
_SOFT = frozenset(
    "every on at and , - of in a an to time zone starting from once the or this top for".split()
)


@dataclass
class Slots:
    text: str
    penalty: float = 0.0
    ambiguous_hour: bool = False
    leftover: list[str] = field(default_factory=list)
    recurring_hint: bool = False
    pm_bias: bool = False
    part_of_day: int | None = None
    interval: tuple[float, str] | None = None  # (amount, unit)
    interval_extra: int = 0  # seconds added by "every 1 hour 30 minutes"
    window: tuple[int, int] | None = None  # whole hours [start, end)
    start_hour: tuple[int, int] | None = None
    minute_offset: int | None = None
    times: list[tuple[int, int]] = field(default_factory=list)
    dows: set[int] | None = None
    excluded_dows: set[int] = field(default_factory=set)
    nth: tuple[int, int] | None = None  # (n, weekday)
    last_day: str | None = None  # cron's day of month: "L" (last day) or "LW" (last weekday)
    last_dow: int | None = None  # the last such weekday of the month (cron's dL)
    doms: set[int] | None = None
    months: set[int] | None = None
    dates: list[tuple[int, int, int]] = field(default_factory=list)  # (year or 0, month, day)
    delta: list[tuple[float, str]] | None = None
    day_offset: int | None = None  # days after today
    next_weekday: tuple[str, int] | None = None
    business_hours: bool = False  # Monday–Friday 9–17 unless days are named
    notes: list[str] = field(default_factory=list)  # readings the answer must point out
    guesses: list[str] = field(default_factory=list)  # readings chosen among several
    bare_hours: list[str] = field(default_factory=list)  # clock times said without am/pm
    read_hours: list[tuple[int, int]] = field(default_factory=list)  # … and how they were read
    excluded_months: set[int] = field(default_factory=set)
    excluded_dates: list[tuple[int, int, int]] = field(default_factory=list)  # with a year
    only_dows: set[int] | None = None
    only_months: set[int] | None = None
    # Bounds, resolved to instants by the parser: ("date", (year or 0, month, day, time or
    # None)), ("month", (year or 0, month)), ("end of month", …) or ("for", (amount, unit)).
    start_bound: tuple[str, tuple[object, ...]] | None = None
    end_bound: tuple[str, tuple[object, ...]] | None = None
    end_before: bool = False  # "before …": the end bound's day (or month) is left out
    unused: list[str] = field(default_factory=list)  # words no rule read


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _hour_value(token: str, slots: Slots) -> tuple[int, int, bool]:
    """(hour, minute, ambiguous) of a time token or bare hour."""
    if token == "noon":
        return 12, 0, False
    if token == "midnight":
        return 0, 0, False
    if token[0] in "@~":
        hour, minute = int(token[1:3]), int(token[4:6])
        ambiguous = token[0] == "~"
    else:
        hour, minute = int(token), 0
        if hour > 24:
            raise NotASchedule(f"'{hour}' is not an hour of the day (0–23)")
        hour %= 24
        ambiguous = 1 <= hour <= 11
    if ambiguous and slots.pm_bias:
        return hour + 12, minute, False
    return hour, minute, ambiguous


def _bare(token: str, hour: int, minute: int, slots: Slots) -> None:
    """Remember a clock time said without am/pm and how it was read (a guess, said)."""
    said = token.lstrip("@~")
    slots.bare_hours.append(said.lstrip("0") if ":" in said and said[0] == "0" else said)
    slots.read_hours.append((hour, minute))


def _time(token: str, slots: Slots) -> tuple[int, int]:
    hour, minute, ambiguous = _hour_value(token, slots)
    if ambiguous:
        _bare(token, hour, minute, slots)
        if not slots.ambiguous_hour:
            slots.ambiguous_hour = True
            slots.penalty += 0.05
    return hour, minute


def _day_set(text: str) -> set[int]:
    days: set[int] = set()
    for item in re.findall(_DAY_ITEM, text):
        names = re.findall(_DAY, item)
        if item == "weekday":
            days |= {1, 2, 3, 4, 5}
        elif item == "weekend":
            days |= {0, 6}
        elif len(names) == 2:
            start, end = DAYS.index(names[0]), DAYS.index(names[1])
            days |= {d % 7 for d in range(start, end + (7 if end < start else 0) + 1)}
        else:
            days.add(DAYS.index(names[0]))
    return days


def _month_set(text: str) -> set[int]:
    months: set[int] = set()
    for item in re.findall(_MONTH_ITEM, text):
        names = re.findall(_MON, item)
        start, end = MONTHS.index(names[0]) + 1, MONTHS.index(names[-1]) + 1
        if end < start:
            months |= set(range(start, 13)) | set(range(1, end + 1))
        else:
            months |= set(range(start, end + 1))
    return months


def _amount(text: str) -> float:
    if text in ("a", "an"):
        return 1
    if text.startswith("half"):
        return 0.5
    return float(text.lstrip("#"))


# The rules. Each acts on a match (``Slots, Match``): it fills slots, or refuses the text.

Action = Callable[[Slots, re.Match[str]], None]


def _refuse(message: str) -> Action:
    def refuse(_: Slots, __: re.Match[str]) -> None:
        raise NotASchedule(message)

    return refuse


def _used(_: Slots, __: re.Match[str]) -> None:
    """Words that fill no slot here but are no leftovers (the lexicon read the zone)."""


def _part(s: Slots, match: re.Match[str]) -> None:
    word = match[1]
    s.pm_bias = s.pm_bias or word != "morning"
    s.part_of_day = _PART_OF_DAY[word]


def _tonight(s: Slots, _: re.Match[str]) -> None:
    s.pm_bias = True
    s.part_of_day = _PART_OF_DAY["night"]


def _relative(s: Slots, match: re.Match[str]) -> None:
    parts: list[tuple[float, str]] = []
    for amount, unit, half in _REL_PART.findall(match[1]):
        parts.append((_amount(amount) + (0.5 if half else 0), unit))
    s.delta = (s.delta or []) + parts


def _day_after(s: Slots, _: re.Match[str]) -> None:
    s.day_offset = 2


def _tomorrow(s: Slots, match: re.Match[str]) -> None:
    s.day_offset = 1 if match[1] == "tomorrow" else 0


def _next_day(s: Slots, match: re.Match[str]) -> None:
    s.next_weekday = (match[1], DAYS.index(match[2]))


def _iso_date(s: Slots, match: re.Match[str]) -> None:
    s.dates.append((int(match[1]), int(match[2]), int(match[3])))


def _month_day(s: Slots, match: re.Match[str]) -> None:
    year = int(match[3]) if match[3] else 0
    s.dates.append((year, MONTHS.index(match[1]) + 1, int(match[2])))


def _day_month(s: Slots, match: re.Match[str]) -> None:
    year = int(match[3]) if match[3] else 0
    s.dates.append((year, MONTHS.index(match[2]) + 1, int(match[1])))


def _every_other_day_name(s: Slots, match: re.Match[str]) -> None:
    # Every second week on that day: an interval of 14 days with a phase (build.py).
    s.interval = (2.0, "week")
    s.dows = {DAYS.index(match[1])}
    s.recurring_hint = True


def _nth(s: Slots, match: re.Match[str]) -> None:
    n = 2 if match[2] else int(match[1])
    if not 1 <= n <= 5:
        raise NotASchedule(f"there is no {ordinal(n)} {match[3]} in a month")
    s.nth = (n, DAYS.index(match[3]))


_DAY_WORDS = dict(
    zip(DAYS, "sunday monday tuesday wednesday thursday friday saturday".split(), strict=True)
)


def _of_the_month(s: Slots, match: re.Match[str]) -> None:
    """ "last friday" alone is a past day: it is read as the month's only where a month is said."""
    if match[1] is not None and match[2] is None and not re.search(r"\bmonth", s.text):
        said = f"last {_DAY_WORDS.get(match[1], match[1])}"
        raise NotASchedule(
            f"could not tell which '{said}' is meant; for a monthly schedule say "
            f"'the {said} of the month'"
        )


def _last_day(s: Slots, match: re.Match[str]) -> None:
    _of_the_month(s, match)
    s.last_day = "LW" if match[1] == "weekday" else "L"
    s.recurring_hint = True


def _last_dow(s: Slots, match: re.Match[str]) -> None:
    _of_the_month(s, match)
    s.last_dow = DAYS.index(match[1])
    s.recurring_hint = True


def _business_hours(s: Slots, _: re.Match[str]) -> None:
    s.window = (9, 17)
    s.business_hours = True


def _window(s: Slots, match: re.Match[str]) -> None:
    start_h, start_m, start_ambiguous = _hour_value(match[1], s)
    end_h, end_m, end_ambiguous = _hour_value(match[2], s)
    if match[2] == "midnight":
        end_h = 24
    if end_ambiguous and end_h <= start_h and end_h + 12 > start_h:
        end_h += 12
    if start_ambiguous:
        _bare(match[1], start_h, start_m, s)
    if end_ambiguous:
        _bare(match[2], end_h % 24, end_m, s)
    if end_m == 59 and not start_m:  # "between 09:00 AM and 04:59 PM": up to 17:00
        end_h, end_m = (end_h + 1) % 24 or 24, 0
    if start_m or end_m:
        raise NotASchedule(
            "a time window must start and end on the hour (e.g. 'between 9am and 5pm')"
        )
    if end_h == start_h:
        raise NotASchedule("the time window is empty: it starts and ends at the same hour")
    s.window = (start_h, end_h)


def _start(s: Slots, match: re.Match[str]) -> None:
    hour, minute = _time(match[1], s)
    s.start_hour = (hour, minute)


def _interval(s: Slots, match: re.Match[str]) -> None:
    amount_text, unit = match[1], match[2]
    if amount_text == "other":
        amount = 2.0
    elif amount_text == "quarter":
        amount = 0.25
    elif amount_text is None:
        amount = 1.0
    else:
        amount = _amount(amount_text)
    s.interval = (amount, unit)
    if match[3]:
        s.interval_extra = int(match[3]) * UNIT_SECONDS[match[4]]
    s.recurring_hint = True


def _period(s: Slots, match: re.Match[str]) -> None:
    if s.interval is None:
        s.interval = (float(_PERIOD_WORDS[match[1]][0]), _PERIOD_WORDS[match[1]][1])
    s.recurring_hint = True


def _per(s: Slots, match: re.Match[str]) -> None:
    if match[1] == "twice":
        s.penalty += 0.15
        unit = {"day": "hour", "hour": "minute"}.get(match[2])
        if unit is None:
            raise NotASchedule(f"'twice a {match[2]}' is too vague; name the days")
        s.interval = (12.0 if unit == "hour" else 30.0, unit)
        s.guesses.append(
            "'twice a day' is read as every 12 hours, at 00:00 and 12:00; name the times "
            "('at 9am and 5pm') for others"
            if unit == "hour"
            else "'twice an hour' is read as every 30 minutes, at :00 and :30"
        )
    elif s.interval is None:
        s.interval = (1.0, match[2])
    s.recurring_hint = True


def _no_interval_yet(s: Slots) -> bool:
    return s.interval is None and s.delta is None


def _bare_interval(s: Slots, match: re.Match[str]) -> None:
    s.penalty += 0.15
    s.interval = (_amount(match[1]), match[2])
    s.guesses.append(f"'{match[0]}' is read as 'every {match[0]}'; say 'in {match[0]}' for once")


def _minute_past(s: Slots, match: re.Match[str]) -> None:
    if match[1] is not None:
        minute = int(match[1])
    elif match[2] is not None:
        minute = 15 if match[2] == "quarter" else 30
    elif match[3] is not None:
        minute = int(match[3])
    else:
        minute = 0
    if minute > 59:
        raise NotASchedule(f"minute {minute} past the hour does not exist (0–59)")
    s.minute_offset = minute


def _times(s: Slots, match: re.Match[str]) -> None:
    for token in _ONE_TIME.findall(match[1]):
        s.times.append(_time(token, s))


def _except_days(s: Slots, match: re.Match[str]) -> None:
    s.excluded_dows |= _day_set(match[1])


def _days(s: Slots, match: re.Match[str]) -> None:
    s.dows = (s.dows or set()) | _day_set(match[1])


def _doms(s: Slots, match: re.Match[str]) -> None:
    found: set[int] = set()
    if match[2]:
        # "day 15", "day 1 and 15", "days 1–7", "between day 1 and 7" (as descriptions say it)
        numbers = [int(n) for n in re.findall(r"\d+", match[2])]
        if match[1]:
            found |= set(range(numbers[0], numbers[-1] + 1))
        else:
            for item in re.split(r" ?(?:,|\band\b|\bor\b) ?", match[2]):
                ends = [int(n) for n in re.findall(r"\d+", item)]
                if ends:
                    found |= set(range(ends[0], ends[-1] + 1))
    else:
        for item in re.findall(_DOM_ITEM, match[3]):
            numbers = [int(n) for n in re.findall(r"\d+", item)]
            found |= set(range(numbers[0], numbers[-1] + 1))
    for day in found:
        if not 1 <= day <= 31:
            raise NotASchedule(f"there is no {ordinal(day)} day in a month")
    s.doms = (s.doms or set()) | found


def _months(s: Slots, match: re.Match[str]) -> None:
    s.months = (s.months or set()) | _month_set(match[1])


def _condition(_: Slots, match: re.Match[str]) -> None:
    raise NotASchedule(
        f"'{match[1]} …' is a condition, not a time: a schedule cannot hold it; schedule the "
        "times and give the job a condition instead"
    )


def _penultimate(s: Slots, match: re.Match[str]) -> None:
    if match[1] not in (None, "day"):
        said = "weekday" if match[1] == "weekday" else _DAY_WORDS[match[1]]
        raise NotASchedule(
            f"'the second-to-last {said} of the month' cannot be said exactly as a Temporal "
            "calendar; name the days (e.g. 'on the 20th to 24th') or use the last one"
        )
    if match[1] is None and match[2] is None:
        raise NotASchedule("say what the second-to-last is: 'the second-to-last day of the month'")
    s.last_day = "L-1"
    s.recurring_hint = True


def _bound_date(text: str) -> tuple[str, tuple[object, ...]]:
    """A bound's date (and time) from its canonical tokens."""
    if text in ("today", "tomorrow"):
        return ("day", (0 if text == "today" else 1,))
    time = re.search(r"[@~](\d\d):(\d\d)", text)
    clock = (int(time[1]), int(time[2])) if time else None
    iso = re.match(r"%(\d{4})-(\d\d)-(\d\d)", text)
    if iso:
        return ("date", (int(iso[1]), int(iso[2]), int(iso[3]), clock))
    month = MONTHS.index(re.findall(_MON, text)[0]) + 1
    numbers = [int(n) for n in re.findall(r"#?(\d+)", text)]
    year = next((n for n in numbers if n > 999), 0)
    day = next(n for n in numbers if n <= 999)
    return ("date", (year, month, day, clock))


def _for_next(s: Slots, match: re.Match[str]) -> None:
    s.end_bound = ("for", (_amount(match[1]), match[2]))
    s.recurring_hint = True


def _bound_range(s: Slots, match: re.Match[str]) -> None:
    s.start_bound = _bound_date(match[1])
    s.end_bound = _bound_date(match[3])
    s.recurring_hint = True


def _until(s: Slots, match: re.Match[str]) -> None:
    """ "until/through march 5" includes the day, "before march 5" ends as it starts; "until
    march" is read as up to March (said), "through march" and "until the end of march" as
    through it."""
    word = match[1]
    if match[3] is not None:
        s.end_bound = _bound_date(match[3])
    else:
        year = int(match[5]) if match[5] else 0
        through = match[2] is not None or word == "through"
        kind = "end of month" if through and word != "before" else "month"
        s.end_bound = (kind, (year, MONTHS.index(match[4]) + 1))
    s.end_before = word == "before"
    s.recurring_hint = True


def _starting(s: Slots, match: re.Match[str]) -> None:
    s.start_bound = _bound_date(match[1])
    s.recurring_hint = True


def _except_dates(s: Slots, match: re.Match[str]) -> None:
    for found in re.finditer(_YEAR_DATE, match[1]):
        _, (year, month, day, _clock) = _bound_date(found[0])
        assert isinstance(year, int) and isinstance(month, int) and isinstance(day, int)
        s.excluded_dates.append((year, month, day))


def _except_months(s: Slots, match: re.Match[str]) -> None:
    s.excluded_months |= _month_set(match[1])


def _only_days(s: Slots, match: re.Match[str]) -> None:
    s.only_dows = _day_set(match[1]) & (s.only_dows if s.only_dows is not None else set(range(7)))


def _only_months(s: Slots, match: re.Match[str]) -> None:
    months = _month_set(match[1])
    s.only_months = months & (s.only_months if s.only_months is not None else months)


def _blank(_: re.Match[str]) -> str:
    return " ; "


def _weekday(_: re.Match[str]) -> str:
    return "weekday"


def _oclock(match: re.Match[str]) -> str:
    """An "N oclock" as a time token (marked ambiguous when it could be am or pm)."""
    hour = int(match[1])
    if hour > 24:
        raise NotASchedule(f"'{hour} o'clock' is not a time of day")
    marker = "~" if 1 <= hour <= 11 else "@"
    return f"{marker}{hour % 24:02d}:00"


def _always(_: Slots) -> bool:
    return True


@dataclass(frozen=True)
class Rule:
    """``act`` on every match of ``pattern`` in the slots' text, each match then replaced by
    what ``into`` makes of it (by default a blank: its words are used). ``when`` is asked once,
    before the first match; a ``keep`` rule acts on the first match and leaves the text as is."""

    pattern: re.Pattern[str]
    act: Action = _used
    into: Callable[[re.Match[str]], str] = _blank
    when: Callable[[Slots], bool] = _always
    keep: bool = False

    def apply(self, slots: Slots) -> None:
        """Run the rule over ``slots``."""
        if not self.when(slots):
            return
        while (match := self.pattern.search(slots.text)) is not None:
            self.act(slots, match)
            if self.keep:
                return
            before, after = slots.text[: match.start()], slots.text[match.end() :]
            slots.text = f"{before}{self.into(match)}{after}"


# In order: a rule sees only the words the rules before it left.
RULES: tuple[Rule, ...] = (
    Rule(_ZONE_PHRASE),
    Rule(_BUSINESS_DAYS, into=_weekday),
    Rule(_NEGATIVE, _refuse("an interval or delay cannot be negative")),
    Rule(_PART, _part),
    Rule(_TONIGHT, _tonight, keep=True),  # "tonight" itself is a day, read below
    Rule(_OCLOCK, into=_oclock),
    Rule(_CONDITION, _condition),
    Rule(_PENULTIMATE, _penultimate),
    Rule(_FOR_NEXT, _for_next),
    Rule(_BOUND_RANGE, _bound_range),
    Rule(_UNTIL, _until),
    Rule(_STARTING, _starting),
    Rule(_EXCEPT_DATES, _except_dates),
    Rule(_EXCEPT_MONTHS, _except_months),
    Rule(_ONLY_MONTHS, _only_months),
    Rule(_IN_REL, _relative),
    Rule(_REL_FROM_NOW, _relative),
    Rule(_DAY_AFTER, _day_after),
    Rule(_TOMORROW, _tomorrow),
    Rule(_NEXT_DAY, _next_day),
    Rule(_ISO_DATE, _iso_date),
    Rule(_MONTH_DAY, _month_day),
    Rule(_DAY_MONTH, _day_month),
    Rule(_LAST_DAY, _last_day),
    Rule(_LAST_DOW, _last_dow),
    Rule(_EVERY_OTHER_DAY_NAME, _every_other_day_name),
    Rule(_NTH_WEEKDAY, _nth),
    Rule(_BUSINESS_HOURS, _business_hours),
    Rule(_WINDOW, _window),
    Rule(_BARE_WINDOW, _window),
    Rule(_START, _start),
    Rule(_INTERVAL, _interval),
    Rule(_PERIOD, _period),
    Rule(_PER, _per),
    Rule(_BARE_INTERVAL, _bare_interval, when=_no_interval_yet),
    Rule(_MINUTE_PAST, _minute_past),
    Rule(_TIMES_AT, _times),
    Rule(_TIMES, _times),
    Rule(_ONLY_DAYS, _only_days),
    Rule(_EXCEPT, _except_days),
    Rule(_DAYS, _days),
    Rule(_DOM, _doms),
    Rule(_MONTHS_RE, _months),
)


def extract(slots: Slots, lexed_tokens: list[str]) -> None:
    """Fill ``slots`` from its text: every rule of ``RULES`` in order, then the defaults the
    slots imply, then the words no rule used (``lexed_tokens``: the text's tokens as lexed)."""
    for rule in RULES:
        rule.apply(slots)
    _fill_defaults(slots)
    _judge_leftovers(slots)
    _mark_recurring(slots, lexed_tokens)


def _fill_defaults(s: Slots) -> None:
    """Business hours fall on weekdays unless days are named; a part of the day without a
    time is its usual hour (a guess)."""
    if s.business_hours and s.dows is None and not s.excluded_dows:
        s.dows = {1, 2, 3, 4, 5}
    if s.part_of_day is not None and not s.times and s.window is None:
        s.times.append((s.part_of_day, 0))
        s.penalty += 0.2
        word = next(w for w, h in _PART_OF_DAY.items() if h == s.part_of_day)
        s.guesses.append(f"'{word}' without a time is read as {s.part_of_day:02d}:00")
    if s.bare_hours:
        said = " and ".join(f"'{hour}'" for hour in dict.fromkeys(s.bare_hours))
        read = " and ".join(f"{h:02d}:{m:02d}" for h, m in dict.fromkeys(s.read_hours))
        s.guesses.append(
            f"{said} without am/pm {'is' if len(s.bare_hours) == 1 else 'are'} read as {read}; "
            "say am or pm (or a 24-hour time such as 17:00) to be sure"
        )


def _judge_leftovers(s: Slots) -> None:
    """Every word is used, refused or said: a word of the grammar that no rule used ("except
    christmas", "until the harvest", a day or a time in the wrong place) refuses the text,
    naming it; a word the parser does not know is left out with a warning naming it (a guess:
    the confidence stays at most 0.5, so a configured LLM reads the text instead)."""
    leftover = [word for word in s.text.split() if word != ";" and word not in _SOFT]
    for word in leftover:
        if word == "yesterday":
            raise NotASchedule("'yesterday' is in the past; a schedule must fire in the future")
        if word in ("next", "last", "tomorrow", "today"):
            raise NotASchedule(f"could not tell which day '{word}' means here")
        if word.startswith("#") or word.isdigit():
            raise NotASchedule(f"could not tell what '{word.lstrip('#')}' refers to")
    known = [_said(word) for word in leftover if not word.startswith("?")]
    if known:
        raise NotASchedule(
            f"could not use {_quoted(known)} here, and leaving "
            f"{'it' if len(known) == 1 else 'them'} out could change the schedule; rephrase, "
            "e.g. 'every monday at 9am except in "
            "august', 'except on 2027-12-24', 'until march 31', 'except US holidays'"
        )
    s.unused = [word[1:] for word in leftover]
    if s.unused:
        s.penalty += 0.1 * len(s.unused)
        s.guesses.append(
            f"the words {_quoted(s.unused)} were not understood and are left out"
            if len(s.unused) > 1
            else f"the word {_quoted(s.unused)} was not understood and is left out"
        )
    s.leftover = leftover


_TOKEN_WORDS = {
    "sun": "sunday", "mon": "monday", "tue": "tuesday", "wed": "wednesday", "thu": "thursday",
    "fri": "friday", "sat": "saturday",
} | {month: month for month in MONTHS}  # fmt: skip


def _said(token: str) -> str:
    """A canonical token as the user would recognise it."""
    if token[:1] in "@~" and len(token) == 6:
        return token[1:]
    if token.startswith("%"):
        return token[1:].replace("0000-", "")
    return _TOKEN_WORDS.get(token, token)


def _quoted(words: list[str]) -> str:
    return ", ".join(f"'{word}'" for word in dict.fromkeys(words))


def _mark_recurring(s: Slots, lexed_tokens: list[str]) -> None:
    """Whether the text asks for a repeating schedule rather than one time."""
    if "every" in lexed_tokens or s.nth or s.last_day or s.last_dow is not None:
        s.recurring_hint = True
    if s.doms and not s.months and not s.dates:
        s.recurring_hint = True
    if s.dows and (len(s.dows) > 1 or s.excluded_dows):
        s.recurring_hint = True
