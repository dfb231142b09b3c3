"""Assembly of filled slots into the one schedule model they can express, or a refusal."""

from __future__ import annotations

import calendar
import datetime as dt

from pydantic import ValidationError

from domain.cron import CronError, parse_cron
from domain.dst import transition_days
from domain.nl.lexicon import NotASchedule
from domain.nl.rules import UNIT_SECONDS, AnySchedule, Slots, ordinal
from domain.schedules import AtSchedule, CronSchedule, EverySchedule
from domain.timezones import load_timezone

__all__ = ["add_months", "dates_as_calendar", "one_off", "recurring"]


def _compress(values: set[int], low: int, high: int) -> str:
    if values == set(range(low, high + 1)):
        return "*"
    ordered = sorted(values)
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def _window_hours(window: tuple[int, int], step: int) -> set[int]:
    start, end = window
    hours = list(range(start, end)) if end > start else list(range(start, 24)) + list(range(end))
    return set(hours[::step])


def _check_day_of_month(doms: set[int] | None, months: set[int] | None) -> None:
    if not doms or not months:
        return
    for month in months:
        limit = 29 if month == 2 else calendar.monthrange(2001, month)[1]
        if all(day > limit for day in doms):
            day = min(doms)
            raise NotASchedule(
                f"{calendar.month_name[month]} has no {ordinal(day)} day "
                f"(it has {limit if month != 2 else '28 or 29'})"
            )


def _restricted(
    said: set[int] | None, only: set[int] | None, excluded: set[int], every: set[int], what: str
) -> set[int] | None:
    """Days or months said, kept to those named with "only", less those excluded."""
    if only is None and not excluded:
        return said
    values = (said if said else set(every)) & (only if only is not None else every)
    values -= excluded
    if not values:
        raise NotASchedule(f"no {what} is left once the exclusions and 'only …' are applied")
    return values


def _cron(slots: Slots, zone: str, minute: str, hour: str, kind: str | None) -> CronSchedule:
    dows = _restricted(slots.dows, slots.only_dows, slots.excluded_dows, set(range(7)), "day")
    if kind == "year" and slots.months is None and (slots.only_months or slots.excluded_months):
        slots.months = {1}  # "yearly except in july": the year's first day, as without it
    months = _restricted(
        slots.months, slots.only_months, slots.excluded_months, set(range(1, 13)), "month"
    )
    doms = slots.doms
    if slots.nth is not None:
        n, weekday = slots.nth
        if dows and dows != {weekday}:
            raise NotASchedule("name one weekday for an 'nth weekday of the month' schedule")
        if doms:
            raise NotASchedule("an 'nth weekday' and a day of the month cannot be combined")
        doms, dows = None, None
        kind = None
    elif doms and dows:
        raise NotASchedule(
            "a schedule on both a day of the month and a weekday fires only when both match "
            "(Temporal's rule); say one of them, or 'the first monday of the month'"
        )
    day_of_month = _compress(doms, 1, 31) if doms else "*"
    day_of_week = _compress(dows, 0, 6) if dows else "*"
    if slots.nth is not None:
        day_of_week = f"{slots.nth[1]}#{slots.nth[0]}"  # the n-th such weekday (cron's d#n)
    if slots.last_day is not None or slots.last_dow is not None:
        if doms or dows or slots.nth is not None or kind == "week":
            raise NotASchedule(
                "'the last day' or 'the last friday' of the month cannot be combined with "
                "other days; say one of them"
            )
        if slots.last_day is not None:
            day_of_month = slots.last_day
        else:
            day_of_week = f"{slots.last_dow}L"
        kind = None
    if kind == "year":
        months = months or {1}
        doms = doms or ({1} if not dows else None)
    elif kind == "month" and not doms and not dows:
        doms = {1}
    elif kind == "week" and not dows:
        dows = {0}
    _check_day_of_month(doms, months)
    fields = [
        minute,
        hour,
        _compress(doms, 1, 31) if doms else day_of_month,
        _compress(months, 1, 12) if months else "*",
        _compress(dows, 0, 6) if dows else day_of_week,
    ]
    expression = " ".join(fields)
    try:
        parse_cron(expression)
        return CronSchedule(type="cron", expression=expression, timezone=zone)
    except (CronError, ValidationError) as error:  # pragma: no cover - a rule bug
        raise NotASchedule(f"could not build a valid schedule: {error}") from None


def _minute_hour(slots: Slots) -> tuple[str, str]:
    """Minute and hour fields from the times said (midnight when none)."""
    if slots.minute_offset is not None and not slots.times:
        raise NotASchedule("a minute past the hour needs an hourly schedule")
    times = slots.times or [(0, 0)]
    hours = {hour for hour, _ in times}
    minutes = {minute for _, minute in times}
    if len(hours) * len(minutes) != len(set(times)):
        raise NotASchedule(
            "these times cannot share one cron schedule (their minutes differ); "
            "use times with the same minutes, e.g. 9:30 and 17:30"
        )
    return _compress(minutes, 0, 59), _compress(hours, 0, 23)


def _every(seconds: int, zone: str) -> EverySchedule:
    return EverySchedule(type="every", interval=seconds, timezone=zone)


def _weeks_on_a_day(slots: Slots, zone: str, total: int, now: dt.datetime) -> EverySchedule:
    """ "every other friday at 5pm": an interval of whole weeks with the phase (Temporal's
    interval offset) that puts its first fire on the next such day and time; "every other
    day at 6am" likewise in whole days, from the next 06:00 (a reading, said as a guess)."""
    weeks = total // 604800
    days = total // 86400
    dows = (slots.dows or set()) - slots.excluded_dows
    restricted = (
        slots.doms
        or slots.months
        or slots.nth
        or slots.window
        or slots.start_hour
        or slots.minute_offset is not None
        or len(slots.times) > 1
        or slots.excluded_months
        or slots.only_dows is not None
        or slots.only_months is not None
    )
    if total % 604800:
        if restricted or dows or not slots.times:
            raise NotASchedule(
                f"every {days} days can be at one time of day only, e.g. 'every other day at 6am'"
            )
    elif len(dows) != 1 or restricted:
        raise NotASchedule(
            f"every {weeks} weeks can be on one weekday at one time of day, e.g. "
            f"'every other friday at 5pm'"
        )
    if not slots.times:
        slots.penalty += 0.05  # midnight by default
    hour, minute = slots.times[0] if slots.times else (0, 0)
    tz = load_timezone(zone)
    local_now = now.astimezone(tz)
    ahead = 0
    if dows:
        (weekday,) = dows
        ahead = (weekday - (local_now.weekday() + 1) % 7) % 7
    first = dt.datetime.combine(local_now.date() + dt.timedelta(days=ahead), dt.time(hour, minute))
    first_at = first.replace(tzinfo=tz).astimezone(dt.UTC).astimezone(tz)
    if first_at <= now:
        step = 7 if dows else 1
        first_at = (first + dt.timedelta(days=step)).replace(tzinfo=tz).astimezone(tz)
    offset = int(first_at.timestamp()) % total
    start = f"{first_at:%A, %B} {first_at.day}, {first_at.year} ({first_at:%H:%M} {zone})"
    if total % 604800:
        slots.guesses.append(
            f"every {days} days is read as a fixed interval of {days * 24} hours from {start}, "
            "not as days of the month (which restart on the 1st)"
        )
    else:
        slots.notes.append(f"every {weeks} weeks from {start}: a fixed interval of {days} days")
    if transition_days(tz, first_at.date(), first_at.date() + dt.timedelta(days=366)):
        slots.penalty += 0.05
        slots.notes.append(
            f"an interval does not follow DST: in {zone} it fires at {first_at:%H:%M} only "
            "while the zone keeps its current offset, an hour earlier or later on the clock "
            "after a DST change; a cron schedule ('every friday at 5pm') follows the clock"
        )
    return EverySchedule(type="every", interval=total, offset=offset, timezone=zone)


def recurring(slots: Slots, zone: str, now: dt.datetime | None = None) -> AnySchedule:
    calendar_set = bool(
        slots.times
        or slots.dows
        or slots.doms
        or slots.months
        or slots.nth
        or slots.excluded_dows
        or slots.excluded_months
        or slots.only_dows is not None
        or slots.only_months is not None
        or slots.last_day
        or slots.last_dow is not None
    )
    if slots.interval is None:
        if slots.window is not None:
            raise NotASchedule("a time window needs an interval, e.g. 'every 15 minutes'")
        if not calendar_set:
            raise NotASchedule("no time, day or interval found in the text")
        if not slots.times:
            slots.penalty += 0.05  # midnight by default
        minute, hour = _minute_hour(slots)
        return _cron(slots, zone, minute, hour, None)
    amount, unit = slots.interval
    if unit in ("month", "year"):
        if amount != int(amount) or amount < 1:
            raise NotASchedule(f"'every {amount:g} {unit}s' is not a whole number of {unit}s")
        if slots.window is not None:
            raise NotASchedule(f"a time window cannot be combined with every {unit}")
        if not slots.times:
            slots.penalty += 0.05
        minute, hour = _minute_hour(slots)
        if unit == "year":
            if amount != 1:
                raise NotASchedule("intervals of several years cannot be expressed as a schedule")
            return _cron(slots, zone, minute, hour, "year")
        if 12 % int(amount):
            raise NotASchedule(
                f"every {int(amount)} months cannot be expressed: a year does not divide into "
                f"{int(amount)}-month steps; use 1, 2, 3, 4, 6 or 12"
            )
        if int(amount) > 1:
            slots.months = set(range(1, 13, int(amount)))
        return _cron(slots, zone, minute, hour, "month")
    seconds = amount * UNIT_SECONDS[unit] + slots.interval_extra
    if seconds != int(seconds):
        raise NotASchedule("the interval is not a whole number of seconds")
    total = int(seconds)
    if total < 1:
        raise NotASchedule("the interval must be at least 1 second (got 0)")
    if total % 604800 == 0 and total >= 2 * 604800 and slots.dows and now is not None:
        return _weeks_on_a_day(slots, zone, total, now)
    if total % 86400 == 0 and total > 86400 and unit == "day" and slots.times and now is not None:
        return _weeks_on_a_day(slots, zone, total, now)
    if total % 60:
        if calendar_set or slots.window:
            raise NotASchedule(
                "intervals in seconds cannot be limited to times or days (cron counts minutes)"
            )
        return _every(total, zone)
    minutes = total // 60
    if minutes < 60 and 60 % minutes == 0:
        if slots.times or slots.start_hour:
            raise NotASchedule("an interval under an hour cannot also name times of day")
        hours = _compress(_window_hours(slots.window, 1), 0, 23) if slots.window else "*"
        return _cron(slots, zone, "*" if minutes == 1 else f"*/{minutes}", hours, None)
    if minutes % 60 == 0 and minutes < 1440 and 24 % (minutes // 60) == 0:
        step = minutes // 60
        at_minute = slots.minute_offset if slots.minute_offset is not None else 0
        if slots.start_hour is not None:
            start_hour, at_minute = slots.start_hour
            hour = _compress(set(range(start_hour, 24, step)), 0, 23)
        elif len(slots.times) == 1 and step > 1:  # "every 3 hours at 8am": from 8 on
            start_hour, at_minute = slots.times.pop()
            hour = _compress(set(range(start_hour, 24, step)), 0, 23)
        elif slots.window is not None:
            hour = _compress(_window_hours(slots.window, step), 0, 23)
        else:
            hour = "*" if step == 1 else f"*/{step}"
        if slots.times:
            raise NotASchedule("an hourly interval cannot also name times of day")
        return _cron(slots, zone, str(at_minute), hour, None)
    if minutes == 1440 or (minutes == 10080 and unit == "week"):
        if slots.window is not None:
            raise NotASchedule("a time window needs an interval shorter than a day")
        if not slots.times:
            slots.penalty += 0.05
        minute, hour = _minute_hour(slots)
        return _cron(slots, zone, minute, hour, "week" if minutes == 10080 else None)
    if calendar_set or slots.window:
        raise NotASchedule(
            f"an interval of {_say_seconds(total)} cannot be limited to times or days: "
            "cron can only step evenly through an hour or a day"
        )
    return _every(total, zone)


def _say_seconds(total: int) -> str:
    for size, name in ((604800, "week"), (86400, "day"), (3600, "hour"), (60, "minute")):
        if total % size == 0:
            count = total // size
            return f"{count} {name}" + ("s" if count != 1 else "")
    return f"{total} seconds"


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return day.replace(
        year=year, month=month + 1, day=min(day.day, calendar.monthrange(year, month + 1)[1])
    )


def one_off(slots: Slots, zone: str, now: dt.datetime) -> AtSchedule:
    tz = load_timezone(zone)
    local_now = now.astimezone(tz)
    if slots.interval is not None or slots.window is not None or slots.doms or slots.months:
        raise NotASchedule("a one-off time cannot also repeat; drop 'every …' or the date")
    if (
        slots.excluded_dows
        or slots.excluded_months
        or slots.only_dows is not None
        or slots.only_months is not None
    ):
        raise NotASchedule("a one-off fires once: it has no days or months to skip or keep")
    if len(slots.times) > 1:
        raise NotASchedule("a one-off schedule takes one time of day")
    time_of_day = slots.times[0] if slots.times else None
    day: dt.date
    if slots.delta is not None:
        if slots.day_offset is not None or slots.dates or slots.next_weekday or slots.dows:
            raise NotASchedule("give either a relative time ('in 2 hours') or a date, not both")
        sub_day = any(unit in ("second", "minute", "hour") for _, unit in slots.delta)
        moved = local_now
        for amount, unit in slots.delta:
            if amount <= 0:
                raise NotASchedule("'in 0 …' is not in the future")
            if unit in ("month", "year"):
                if amount != int(amount):
                    raise NotASchedule(f"'{amount:g} {unit}s' is not a whole number of {unit}s")
                months = int(amount) * (12 if unit == "year" else 1)
                moved = dt.datetime.combine(add_months(moved.date(), months), moved.timetz())
            else:
                moved = moved + dt.timedelta(seconds=amount * UNIT_SECONDS[unit])
        if time_of_day is None or sub_day:
            if time_of_day is not None:
                raise NotASchedule("'in N minutes/hours' already says the time")
            instant = moved.astimezone(tz).replace(microsecond=0)
            return AtSchedule(type="at", datetime=instant, timezone=zone)
        day = moved.date()
    elif slots.dates:
        if len(slots.dates) > 1 or slots.day_offset is not None or slots.next_weekday:
            raise NotASchedule("a one-off schedule takes one date")
        year, month, day_number = slots.dates[0]
        candidates = [year] if year else [local_now.year, local_now.year + 1]
        day = dt.date(1, 1, 1)
        for candidate in candidates:
            try:
                day = dt.date(candidate, month, day_number)
            except ValueError:
                if candidate == candidates[-1]:
                    raise NotASchedule(_bad_date(candidate, month, day_number)) from None
                continue
            hour, minute = time_of_day or (0, 0)
            if year or dt.datetime.combine(day, dt.time(hour, minute), tz) > local_now:
                break
        if slots.dows and (day.weekday() + 1) % 7 not in slots.dows:
            raise NotASchedule(f"{day:%B} {day.day}, {day.year} is a {day:%A}")
    elif slots.day_offset is not None:
        day = local_now.date() + dt.timedelta(days=slots.day_offset)
    elif slots.next_weekday is not None:
        which, weekday = slots.next_weekday
        today = (local_now.weekday() + 1) % 7  # Sunday = 0
        ahead = (weekday - today) % 7
        if which == "next" and ahead == 0:
            ahead = 7
        day = local_now.date() + dt.timedelta(days=ahead)
        if which == "next":
            # "next friday" is the Friday of next week (weeks start on Monday); on a Wednesday
            # that is not the first Friday to come, so the answer says which one it took.
            next_monday = local_now.date() + dt.timedelta(days=7 - local_now.weekday())
            next_week = next_monday + dt.timedelta(days=(weekday - 1) % 7)
            if next_week != day:
                slots.penalty += 0.1
                name = f"{next_week:%A}"
                slots.guesses.append(
                    f"'next {name.lower()}' is read as {name} of next week, "
                    f"{next_week:%B} {next_week.day}; say 'this {name.lower()}' for "
                    f"{day:%B} {day.day}"
                )
                day = next_week
        hour, minute = time_of_day or (0, 0)
        if ahead == 0 and dt.datetime.combine(day, dt.time(hour, minute), tz) <= local_now:
            day += dt.timedelta(days=7)
    else:  # pragma: no cover - guarded by the caller
        raise NotASchedule("no date found")
    if time_of_day is None:
        slots.penalty += 0.1  # midnight by default
    hour, minute = time_of_day or (0, 0)
    schedule = AtSchedule(
        type="at", datetime=dt.datetime.combine(day, dt.time(hour, minute)), timezone=zone
    )
    if schedule.datetime <= now:
        raise NotASchedule(
            f"{schedule.datetime:%Y-%m-%d %H:%M} {zone} is in the past "
            f"(now is {local_now:%Y-%m-%d %H:%M})"
        )
    return schedule


def _bad_date(year: int, month: int, day: int) -> str:
    if not 1 <= month <= 12:
        return f"there is no month {month}"
    limit = calendar.monthrange(year or 2001, month)[1]
    return (
        f"{calendar.month_name[month]} {year or ''} has no {ordinal(day)} day".replace("  ", " ")
        + f" (it has {limit})"
    )


def dates_as_calendar(slots: Slots) -> None:
    """'every jan 1st' / 'march 5 every year': the dates become months and days of month."""
    months = {month for _, month, _ in slots.dates}
    days = {day for _, _, day in slots.dates}
    if len(months) * len(days) != len(set((m, d) for _, m, d in slots.dates)):
        raise NotASchedule("these dates cannot share one cron schedule; list them separately")
    for year, month, day in slots.dates:
        if year:
            raise NotASchedule("a repeating schedule cannot name a year")
        if not 1 <= month <= 12:
            raise NotASchedule(f"there is no month {month}")
        limit = 29 if month == 2 else calendar.monthrange(2001, month)[1]
        if not 1 <= day <= limit:
            raise NotASchedule(_bad_date(0, month, day))
    slots.months = (slots.months or set()) | months
    slots.doms = (slots.doms or set()) | days
    if slots.interval is None:
        slots.interval = (1.0, "year")
