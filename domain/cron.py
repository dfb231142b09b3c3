"""Cron expressions read exactly as Temporal Server reads them.

Temporal compiles a cron string into a structured calendar and finds fire times with its own
matcher (``service/worker/scheduler/calendar.go``), which walks wall-clock fields in the schedule's
zone and turns them into instants with Go's ``time.Date``. Its answers differ from classic cron
around DST changes and when both day fields are restricted, so this module reimplements that
matcher instead of using a cron library. Forms Temporal reads surprisingly (a 6th field is a
year) or rejects (``?``) are refused with a message naming the field.

The day forms ``L``, ``LW``, ``nW`` (day of month) and ``dL``, ``d#n`` (day of week), which
Temporal's cron strings lack, compile to an exact list of calendars in Temporal's own terms
(months, years, days of the month, days of the week; ``calendars``), so a schedule built from
them never fires on a day the expression does not name.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime
from enum import Enum
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["CronError", "CompiledCron", "DayCalendar", "parse_cron", "SHORTCUTS", "value_runs"]

# Temporal's calendar matcher gives up after this (local) year.
MAX_YEAR = 2100

SHORTCUTS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_FIELD_NAMES = "minute hour day-of-month month day-of-week"
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_GO_ATOI = re.compile(r"[+-]?[0-9]+")
_QUARTZ_TOKEN = re.compile(r"L|W|LW|[0-9]+[LW]|L-[0-9]+|[A-Z0-9]*#.*", re.IGNORECASE)
# The day forms compiled to calendars: L, LW, nW in the day of month; dL, d#n in the day of week.
_MONTH_DAY_FORM = re.compile(r"(L|LW|([0-9]+)W|L-([0-9]+))", re.IGNORECASE)
_WEEK_DAY_FORM = re.compile(r"([A-Z]+|[0-9]+)(L|#([0-9]+))", re.IGNORECASE)
_ORDINALS = ("first", "second", "third", "fourth", "fifth")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class CronError(ValueError):
    """A cron expression the product refuses; the message is user-facing."""


class _Names(Enum):
    NONE = 0
    MONTH = 1
    DAY = 2


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: _Names


_MINUTE = _Field("minute", 0, 59, _Names.NONE)
_HOUR = _Field("hour", 0, 23, _Names.NONE)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, _Names.NONE)
_MONTH = _Field("month", 1, 12, _Names.MONTH)
_DAY_OF_WEEK = _Field("day-of-week", 0, 7, _Names.DAY)
_FIELDS = (_MINUTE, _HOUR, _DAY_OF_MONTH, _MONTH, _DAY_OF_WEEK)


def _go_atoi(text: str) -> int | None:
    """Go's ``strconv.Atoi`` on the inputs a cron field can hold (no ``_``, no spaces)."""
    return int(text) if _GO_ATOI.fullmatch(text) else None


def _not_a_value(field: _Field, token: str) -> CronError:
    if token == "":
        return CronError(f"{field.name} field: a value is missing")
    if _QUARTZ_TOKEN.fullmatch(token):
        forms = (
            "L (last day), L-n (n days before it), LW (last weekday) or nW (weekday nearest day n)"
            if field is _DAY_OF_MONTH
            else "dL (last weekday d of the month) or d#n (n-th weekday d)"
            if field is _DAY_OF_WEEK
            else "no day forms"
        )
        return CronError(
            f"{field.name} field: '{token}' is not supported: this field takes {forms}"
        )
    kind = {_Names.NONE: "a number", _Names.MONTH: "a month name or number"}.get(
        field.names, "a day name or number"
    )
    return CronError(f"{field.name} field: '{token}' is not {kind}")


def _out_of_range(field: _Field, value: int) -> CronError:
    note = " (0 and 7 are Sunday)" if field.names is _Names.DAY else ""
    return CronError(f"{field.name} field: {value} is out of range {field.low}–{field.high}{note}")


def _parse_value(field: _Field, token: str) -> int:
    """One value: a number, or a month (3+ letters) or day (2+ letters) name prefix."""
    lowered = token.lower()
    if field.names is _Names.MONTH and len(token) >= 3:
        for index, month in enumerate(_MONTHS, start=1):
            if month.startswith(lowered):
                return index
    elif field.names is _Names.DAY and len(token) >= 2:
        for index, day in enumerate(_DAYS):
            if day.startswith(lowered):
                return index
    value = _go_atoi(token)
    if value is None:
        raise _not_a_value(field, token)
    return value


def _parse_field(field: _Field, text: str) -> frozenset[int]:
    """The values one field matches, with Temporal's reading of ranges, steps and Sunday."""
    ranges: list[tuple[int, int, int]] = []
    for item in text.split(","):
        part, step, has_step = item, 1, False
        if "/" in part:
            pieces = part.split("/")
            if len(pieces) != 2:
                raise CronError(f"{field.name} field: '{item}' has more than one '/'")
            part, step_text = pieces
            parsed_step = _go_atoi(step_text)
            if parsed_step is None:
                raise CronError(f"{field.name} field: step '{step_text}' is not a whole number")
            if parsed_step < 1:
                raise CronError(f"{field.name} field: step must be at least 1, got {parsed_step}")
            step, has_step = parsed_step, True
        start, end = field.low, field.high
        if part != "*":
            if "-" in part:
                pieces = part.split("-")
                if len(pieces) != 2:
                    raise CronError(f"{field.name} field: '{item}' has more than one '-'")
                start = _parse_value(field, pieces[0])
                if not field.low <= start <= field.high:
                    raise _out_of_range(field, start)
                end = _parse_value(field, pieces[1])
                if end > field.high:
                    raise _out_of_range(field, end)
                if end < start:
                    raise _backwards(field, part, start, end)
            else:
                start = _parse_value(field, part)
                if not field.low <= start <= field.high:
                    raise _out_of_range(field, start)
                if not has_step:
                    end = start
        if field.names is _Names.DAY and end == 7:
            # Temporal's own rewrite of 7 (Sunday) into 0, quirks included.
            if (7 - start) % step == 0 and (step > 1 or start > 1):
                ranges.append((0, 0, 1))
                if start == 7:
                    continue
            end = 6
        ranges.append((start, end, step))
    values = {value for start, end, step in ranges for value in range(start, end + 1, step)}
    return frozenset(values)


def _backwards(field: _Field, part: str, start: int, end: int) -> CronError:
    high = 6 if field.names is _Names.DAY else field.high
    low_part = f"{field.low}" if end == field.low else f"{field.low}-{end}"
    advice = f"write it as two ranges, e.g. {start}-{high},{low_part}"
    if field.names is _Names.DAY and end == 0:
        advice = f"Sunday is 0 in a range: write {start}-7"
    return CronError(
        f"{field.name} field: range '{part}' ends before it starts and ranges do not wrap; {advice}"
    )


def _next_table(values: frozenset[int], size: int) -> tuple[int, ...]:
    """``table[v]`` is the smallest value ``>= v`` in ``values``, or ``size`` when none is."""
    table = [size] * (size + 1)
    following = size
    for value in range(size - 1, -1, -1):
        if value in values:
            following = value
        table[value] = following
    return tuple(table)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 + ((0b1010110101010 >> month) & 1)


def _local(instant: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(instant, tz)


def _offset(instant: int, tz: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(instant, tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def go_date(
    year: int, month: int, day: int, hour: int, minute: int, second: int, tz: ZoneInfo
) -> int:
    """Unix seconds of Go's ``time.Date(year, month, day, hour, minute, second, 0, tz)``.

    Go reads the wall time with the offset in effect at the instant ``wall - offset(wall)``
    (treating the wall time as if it were UTC first), adjusting once. So a wall time that a
    spring-forward skips can land before or after the gap, and one that a fall-back repeats can
    land on either occurrence, depending on the zone; Python's ``fold`` follows other rules.
    ``day`` must be valid for the month; ``hour`` may be 24 (the next midnight).
    """
    wall = (date(year, month, day).toordinal() - _EPOCH_ORDINAL) * 86400
    wall += hour * 3600 + minute * 60 + second
    return wall - _offset(wall - _offset(wall, tz), tz)


_LEAP_YEARS = frozenset(
    y for y in range(2000, MAX_YEAR + 1) if y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
)
_COMMON_YEARS = frozenset(range(2000, MAX_YEAR + 1)) - _LEAP_YEARS
_ALL_DAYS_OF_MONTH = frozenset(range(1, 32))
_ALL_DAYS_OF_WEEK = frozenset(range(7))
_WEEKDAYS = frozenset(range(1, 6))
# Months grouped by length: (months, years or None for all, days). February by year, so a
# calendar naming "the last day" lists the leap years (2000-2096) and the others explicitly.
_MONTH_LENGTHS: tuple[tuple[frozenset[int], frozenset[int] | None, int], ...] = (
    (frozenset({1, 3, 5, 7, 8, 10, 12}), None, 31),
    (frozenset({4, 6, 9, 11}), None, 30),
    (frozenset({2}), _LEAP_YEARS, 29),
    (frozenset({2}), _COMMON_YEARS, 28),
)


def value_runs(values: frozenset[int]) -> list[tuple[int, int]]:
    """``values`` as sorted inclusive runs of consecutive numbers (Temporal's ranges)."""
    runs: list[tuple[int, int]] = []
    for value in sorted(values):
        if runs and runs[-1][1] == value - 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


@dataclass(frozen=True)
class DayCalendar:
    """The days one Temporal calendar matches: a day matches when every field does.

    ``years`` None is every year. Sunday is 0 in ``days_of_week``.
    """

    months: frozenset[int]
    days_of_month: frozenset[int]
    days_of_week: frozenset[int]
    years: frozenset[int] | None = None

    _next_month: tuple[int, ...] = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_next_month", _next_table(self.months, 13))

    def names(self, day: date) -> bool:
        """Whether the calendar matches the local date ``day``."""
        return (
            (self.years is None or day.year in self.years)
            and day.month in self.months
            and day.day in self.days_of_month
            and (day.weekday() + 1) % 7 in self.days_of_week
        )


@dataclass(frozen=True)
class CompiledCron:
    """A parsed 5-field expression: the values each field matches (Sunday is 0).

    ``days_of_month`` and ``days_of_week`` hold the plain values of the day fields (all of
    them for ``*``); the day forms (``L``, ``W``, ``#``) are only in ``calendars``, the exact
    list of Temporal calendars the expression is (one for a plain expression). ``day_forms``
    says whether it has any: then it goes to Temporal as those calendars, not as a cron string.
    """

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    calendars: tuple[DayCalendar, ...] = ()
    day_forms: bool = False

    _next_minute: tuple[int, ...] = dataclass_field(init=False, repr=False, compare=False)
    _next_hour: tuple[int, ...] = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_next_minute", _next_table(self.minutes, 60))
        object.__setattr__(self, "_next_hour", _next_table(self.hours, 24))
        if not self.calendars:
            plain = DayCalendar(self.months, self.days_of_month, self.days_of_week)
            object.__setattr__(self, "calendars", (plain,))

    def names_day(self, day: date) -> bool:
        """Whether the expression names the local date ``day`` (any of its calendars)."""
        return any(calendar.names(day) for calendar in self.calendars)

    def next_after(self, after: datetime, tz: ZoneInfo) -> datetime | None:
        """The first fire time strictly after ``after``, as Temporal computes it.

        Args:
            after: A timezone-aware instant.
            tz: The zone the expression is read in.

        Returns:
            The fire time in UTC, or None when nothing matches up to Temporal's horizon
            (the end of year 2100 in ``tz``), e.g. for February 30.
        """
        if after.tzinfo is None or after.utcoffset() is None:
            raise ValueError("after must be timezone-aware")
        instant = math.floor(after.timestamp())
        # Temporal's spec: the earliest of its calendars' next times, each from ``after``.
        found = [
            t
            for t in (self._next(instant, tz, calendar) for calendar in self.calendars)
            if t is not None
        ]
        return datetime.fromtimestamp(min(found), UTC) if found else None

    def _next(self, after: int, tz: ZoneInfo, calendar: DayCalendar) -> int | None:
        """Temporal's ``compiledCalendar.next`` over Unix seconds, field by field."""
        next_minute, next_hour, next_month = (
            self._next_minute,
            self._next_hour,
            calendar._next_month,
        )
        months, years = calendar.months, calendar.years
        days_of_month, days_of_week = calendar.days_of_month, calendar.days_of_week
        any_weekday = len(days_of_week) == 7

        start = _local(after, tz)
        y, mo, d = start.year, start.month, start.day
        h, m, s = start.hour, start.minute, start.second
        # Inside the second copy of a repeated hour: results are shifted one hour later.
        dst_shift = 3600 if _local(after - 3600, tz).hour == h else 0
        s += 1
        while True:
            if s >= 60:
                m, s = m + 1, 0
            if m >= 60:
                before = go_date(y, mo, d, h, 0, 0, tz)
                h, m = h + 1, 0
                if dst_shift == 0 and go_date(y, mo, d, h, 0, 0, tz) - before > 3600:
                    # The hour just left repeats after a fall-back: walk it again, shifted.
                    h, dst_shift = h - 1, 3600
                else:
                    dst_shift = 0
            if h >= 24:
                d, h = d + 1, 0
            if d > _days_in_month(y, mo):
                mo, d = mo + 1, 1
            if mo > 12:
                y, mo = y + 1, 1
            if y > MAX_YEAR:
                return None
            if years is not None and y not in years:
                y, mo, d, h, m, s, dst_shift = y + 1, 1, 1, 0, 0, 0, 0
                continue
            if mo not in months:
                mo, d, h, m, s, dst_shift = next_month[mo], 1, 0, 0, 0, 0
                if mo > 12:
                    continue
            restart = False
            while d not in days_of_month or not (
                any_weekday or _go_weekday(go_date(y, mo, d, h, m, s, tz), tz) in days_of_week
            ):
                d, h, m, s, dst_shift = d + 1, 0, 0, 0, 0
                if d > _days_in_month(y, mo):
                    restart = True
                    break
            if restart:
                continue
            if h not in self.hours:
                h, m, s, dst_shift = next_hour[h], 0, 0, 0
                if h >= 24:
                    continue
            if m not in self.minutes:
                m, s = next_minute[m], 0
                if m >= 60:
                    continue
            if s != 0:
                s = 60
                continue
            found = go_date(y, mo, d, h, m, s, tz)
            if _local(found, tz).hour != h:
                # A wall time skipped by a spring-forward: Temporal moves on to the next hour.
                h, m, s = h + 1, 0, 0
                continue
            return found + dst_shift


def _go_weekday(instant: int, tz: ZoneInfo) -> int:
    """Weekday of an instant in ``tz``, Sunday = 0 as in Go."""
    return (_local(instant, tz).weekday() + 1) % 7


def _check_whole_expression(expression: str) -> str:
    text = expression.strip(" \t\r\n")
    if not text:
        raise CronError(f"empty cron expression: expected 5 fields ({_FIELD_NAMES})")
    if text.startswith(("TZ=", "CRON_TZ=")):
        raise CronError(
            "a 'CRON_TZ=' or 'TZ=' prefix is not supported: set the schedule's timezone instead"
        )
    if text.startswith("@every"):
        raise CronError(
            "'@every' is not supported: use an 'every' schedule with an interval instead"
        )
    if text.startswith("@"):
        if text in SHORTCUTS:
            return SHORTCUTS[text]
        raise CronError(f"unknown shortcut '{text}': use one of {', '.join(SHORTCUTS)}")
    if "?" in text:
        raise CronError("'?' is not supported: Temporal rejects it; use '*' instead")
    return text


@lru_cache(maxsize=1024)
def parse_cron(expression: str) -> CompiledCron:
    """Parse a 5-field cron expression (or a shortcut such as ``@daily``) as Temporal would.

    Args:
        expression: ``minute hour day-of-month month day-of-week``; lists, ranges, steps and
            month/day names (``JAN``, ``MON-FRI``) are accepted; 0 and 7 are both Sunday.

    Returns:
        The compiled expression.

    Raises:
        CronError: The expression is malformed or uses a form Temporal would read
            differently from classic cron; the message names the field at fault.
    """
    fields = re.split(r"[ \t]+", _check_whole_expression(expression))
    if len(fields) != 5:
        hint = ""
        if len(fields) == 6:
            hint = "; Temporal would read a 6th field as a year"
        elif len(fields) == 7:
            hint = "; Temporal would read 7 fields as seconds … year"
        raise CronError(f"expected 5 fields ({_FIELD_NAMES}), got {len(fields)}{hint}")
    for field, text in zip(_FIELDS[:4], fields, strict=False):
        if "#" in text:
            raise CronError(
                f"{field.name} field: '#' is only read in the day-of-week field, as d#n "
                "(the n-th weekday d of the month, e.g. 2#2 for the second Tuesday)"
            )
    month_day_forms, month_day_text = _split_forms(_DAY_OF_MONTH, fields[2], _MONTH_DAY_FORM)
    week_day_forms, week_day_text = _split_forms(_DAY_OF_WEEK, fields[4], _WEEK_DAY_FORM)
    if month_day_forms and week_day_forms:
        raise CronError(
            "day-of-week field: its L and # forms cannot be combined with the day-of-month "
            "field's L and W forms; restrict one of the two fields only"
        )
    minutes, hours, months = (
        _parse_field(f, fields[i]) for f, i in ((_MINUTE, 0), (_HOUR, 1), (_MONTH, 3))
    )
    days_of_month = _parse_field(_DAY_OF_MONTH, month_day_text) if month_day_text else frozenset()
    days_of_week = _parse_field(_DAY_OF_WEEK, week_day_text) if week_day_text else frozenset()
    if not (month_day_forms or week_day_forms):
        return CompiledCron(
            expression=expression,
            minutes=minutes,
            hours=hours,
            days_of_month=days_of_month,
            months=months,
            days_of_week=days_of_week,
        )
    calendars: list[DayCalendar] = []
    if days_of_month and days_of_week:
        calendars.append(DayCalendar(months, days_of_month, days_of_week))
    # A field without day forms matches as a whole; one with them, by its values or its forms.
    for form in month_day_forms:
        calendars += _month_day_calendars(form, months, days_of_week or _ALL_DAYS_OF_WEEK)
    for form in week_day_forms:
        calendars += _week_day_calendars(form, months, days_of_month or _ALL_DAYS_OF_MONTH)
    calendars = [c for c in calendars if c.months and c.days_of_month and c.days_of_week]
    if not calendars:
        # Nothing can match (e.g. "30W" in February only): a calendar that never fires.
        calendars = [DayCalendar(frozenset({2}), frozenset({30}), _ALL_DAYS_OF_WEEK)]
    return CompiledCron(
        expression=expression,
        minutes=minutes,
        hours=hours,
        days_of_month=days_of_month,
        months=months,
        days_of_week=days_of_week,
        calendars=_merged(calendars),
        day_forms=True,
    )


def _split_forms(
    field: _Field, text: str, form: re.Pattern[str]
) -> tuple[list[re.Match[str]], str]:
    """The day forms of a field's list and the rest of the list as plain text."""
    forms: list[re.Match[str]] = []
    plain: list[str] = []
    for item in text.split(","):
        match = form.fullmatch(item)
        if match is None and _QUARTZ_TOKEN.fullmatch(item):
            raise _not_a_value(field, item)
        if match is None:
            plain.append(item)
        else:
            forms.append(match)
    if forms and "*" in plain:
        raise CronError(f"{field.name} field: '*' already names every day; drop '{forms[0][0]}'")
    return forms, ",".join(plain)


def _month_day_calendars(
    form: re.Match[str], months: frozenset[int], weekdays: frozenset[int]
) -> list[DayCalendar]:
    """``L``, ``LW`` or ``nW`` of the day-of-month field, for each month length."""
    token = form[0].upper()
    day = int(form[2]) if form[2] is not None else None
    before_last = int(form[3]) if form[3] is not None else None
    if before_last is not None and not 1 <= before_last <= 27:
        raise CronError(
            f"day-of-month field: '{form[0]}': {before_last} is out of range 1–27 "
            "(L-n is n days before the last day of the month)"
        )
    if day is not None and not 1 <= day <= 31:
        raise CronError(
            f"day-of-month field: '{form[0]}': {day} is out of range 1–31 "
            "(nW is the weekday nearest day n)"
        )
    calendars: list[DayCalendar] = []
    for lengths_months, years, length in _MONTH_LENGTHS:
        these = months & lengths_months
        if day is not None and day <= 27:
            # Days 1-27 and their neighbours exist in every month: one rule for all of them.
            these, years, length = months, None, 31
        if not these:
            continue
        rules: list[tuple[int, frozenset[int]]]
        if token == "L":
            rules = [(length, _ALL_DAYS_OF_WEEK)]
        elif before_last is not None:
            rules = [(length - before_last, _ALL_DAYS_OF_WEEK)]
        elif token == "LW":
            # The last day if a weekday, else the Friday before it (a Saturday or a Sunday).
            rules = [
                (length, _WEEKDAYS),
                (length - 1, frozenset({5})),
                (length - 2, frozenset({5})),
            ]
        else:
            assert day is not None
            if day > length:
                continue  # a month without day n has no fire
            saturday = (3, frozenset({1})) if day == 1 else (day - 1, frozenset({5}))
            sunday = (day - 2, frozenset({5})) if day == length else (day + 1, frozenset({1}))
            rules = [(day, _WEEKDAYS), saturday, sunday]
        calendars += [
            DayCalendar(these, frozenset({d}), weekdays & days, years) for d, days in rules
        ]
        if day is not None and day <= 27:
            break
    return calendars


def _week_day_calendars(
    form: re.Match[str], months: frozenset[int], days_of_month: frozenset[int]
) -> list[DayCalendar]:
    """``dL`` (the last weekday d of the month) or ``d#n`` (the n-th) of the day-of-week field."""
    weekday = _parse_value(_DAY_OF_WEEK, form[1])
    if not 0 <= weekday <= 7:
        raise CronError(
            f"day-of-week field: '{form[0]}': {weekday} is out of range 0–7 (0 and 7 are Sunday)"
        )
    weekday %= 7
    days = frozenset({weekday})
    if form[3] is not None:
        nth = int(form[3])
        if not 1 <= nth <= 5:
            raise CronError(
                f"day-of-week field: '{form[0]}': #{nth} is out of range #1–#5 "
                "(a month has at most five of each weekday)"
            )
        week = frozenset(range(7 * nth - 6, min(7 * nth, 31) + 1))
        return [DayCalendar(months, week & days_of_month, days)]
    return [
        DayCalendar(
            months & these, frozenset(range(length - 6, length + 1)) & days_of_month, days, years
        )
        for these, years, length in _MONTH_LENGTHS
    ]


def _merged(calendars: list[DayCalendar]) -> tuple[DayCalendar, ...]:
    """The calendars with those that differ only in months made one (same matches)."""
    merged: dict[tuple[frozenset[int], frozenset[int], frozenset[int] | None], set[int]] = {}
    for calendar in calendars:
        key = (calendar.days_of_month, calendar.days_of_week, calendar.years)
        merged.setdefault(key, set()).update(calendar.months)
    return tuple(
        DayCalendar(frozenset(months), days_of_month, days_of_week, years)
        for (days_of_month, days_of_week, years), months in merged.items()
    )
