"""Phrasings and the schedules they mean, shared by tests/test_nl.py and bench/parse_nl.py.

Each case is ``(text, kind, value, zone)`` plus an optional default zone (``UTC`` otherwise):
``cron`` → expression (judged by its next fire times, not its spelling), ``every`` → seconds,
``at`` → local wall time ``YYYY-MM-DDTHH:MM[:SS]`` in ``zone``. Relative phrases count from
``NOW_LOCAL`` (Wednesday 2026-11-25 10:00) in the default zone. Cron fire times are also
taken from ``SUMMER`` (2027-07-01, summer time in the north), because in late November
London keeps UTC's clock and "every 2 hours Pacific" fires on UTC's even hours: a parser
that lost the zone would pass on winter fire times alone.
"""

from __future__ import annotations

import datetime as dt

NOW_LOCAL = dt.datetime(2026, 11, 25, 10, 0)
SUMMER = dt.datetime(2027, 7, 1, tzinfo=dt.UTC)

UTC = "UTC"
LA = "America/Los_Angeles"
NY = "America/New_York"

# ``every`` with a phase: (interval, the first fire's local wall time).
Value = str | int | tuple[int, str]
Case = tuple[str, str, Value, str] | tuple[str, str, Value, str, str]

CASES: list[Case] = [
    # intervals
    # every N weeks on a day: an interval with a phase, first fire on the next such day
    ("every other week on friday", "every", (1209600, "2026-11-27T00:00"), UTC),
    ("every other friday at 5pm", "every", (1209600, "2026-11-27T17:00"), UTC),
    ("every other monday", "every", (1209600, "2026-11-30T00:00"), UTC),
    ("biweekly on monday at 9am", "every", (1209600, "2026-11-30T09:00"), NY, NY),
    ("every two weeks on wednesday at 8am", "every", (1209600, "2026-12-02T08:00"), UTC),
    ("every 3 weeks on tuesday at noon", "every", (1814400, "2026-12-01T12:00"), UTC),
    ("every 90 seconds", "every", 90, UTC),
    ("every 30 seconds", "every", 30, UTC),
    ("every second", "every", 1, UTC),
    ("every minute", "cron", "* * * * *", UTC),
    ("every 5 min", "cron", "*/5 * * * *", UTC),
    ("every 5 minutes", "cron", "*/5 * * * *", UTC),
    ("EVERY 5 MINUTES", "cron", "*/5 * * * *", UTC),
    ("every 10 mins", "cron", "*/10 * * * *", UTC),
    ("every fifteen minutes", "cron", "*/15 * * * *", UTC),
    ("every 15m", "cron", "*/15 * * * *", UTC),
    ("every 20 minutes", "cron", "*/20 * * * *", UTC),
    ("every half hour", "cron", "*/30 * * * *", UTC),
    ("every quarter hour", "cron", "*/15 * * * *", UTC),
    ("every 30 min", "cron", "*/30 * * * *", UTC),
    ("every 60 minutes", "cron", "0 * * * *", UTC),
    ("every 90 minutes", "every", 5400, UTC),
    ("every 45 minutes", "every", 2700, UTC),
    ("every 40 minutes", "every", 2400, UTC),
    ("every 1.5 hours", "every", 5400, UTC),
    ("every 1h30m", "every", 5400, UTC),
    ("every hour", "cron", "0 * * * *", UTC),
    ("hourly", "cron", "0 * * * *", UTC),
    ("once an hour", "cron", "0 * * * *", UTC),
    ("every other hour", "cron", "0 */2 * * *", UTC),
    ("every 2 hours", "cron", "0 */2 * * *", UTC),
    ("every 2h", "cron", "0 */2 * * *", UTC),
    ("every two hours", "cron", "0 */2 * * *", UTC),
    ("every 120 minutes", "cron", "0 */2 * * *", UTC),
    ("every 3rd hour", "cron", "0 */3 * * *", UTC),
    ("every 4 hours", "cron", "0 */4 * * *", UTC),
    ("every 6 hours", "cron", "0 */6 * * *", UTC),
    ("every 12 hours", "cron", "0 */12 * * *", UTC),
    ("every 7 hours", "every", 25200, UTC),
    ("every 5 hours", "every", 18000, UTC),
    ("every 36 hours", "every", 129600, UTC),
    ("every 2 days", "every", 172800, UTC),
    ("every other day", "every", 172800, UTC),
    ("every 2 weeks", "every", 1209600, UTC),
    ("every other week", "every", 1209600, UTC),
    ("every hour on the hour", "cron", "0 * * * *", UTC),
    ("every hour at :15", "cron", "15 * * * *", UTC),
    ("every hour at 15 past", "cron", "15 * * * *", UTC),
    ("hourly at :30", "cron", "30 * * * *", UTC),
    ("at half past every hour", "cron", "30 * * * *", UTC),
    ("every 5 minutes in Tokyo", "cron", "*/5 * * * *", "Asia/Tokyo"),
    ("every 2 hours Pacific", "cron", "0 */2 * * *", LA),
    # daily times
    ("every day at 9am", "cron", "0 9 * * *", UTC),
    ("daily at 9am", "cron", "0 9 * * *", UTC),
    ("every day at 9:30 am", "cron", "30 9 * * *", UTC),
    ("every day at 9.30am", "cron", "30 9 * * *", UTC),
    ("every day at 21:00", "cron", "0 21 * * *", UTC),
    ("21:00 daily", "cron", "0 21 * * *", UTC),
    ("every day at noon", "cron", "0 12 * * *", UTC),
    ("midnight every day", "cron", "0 0 * * *", UTC),
    ("daily at midnight", "cron", "0 0 * * *", UTC),
    ("daily", "cron", "0 0 * * *", UTC),
    ("everyday at 7am", "cron", "0 7 * * *", UTC),
    ("each day at 6:45pm", "cron", "45 18 * * *", UTC),
    ("every day at 9 pm", "cron", "0 21 * * *", UTC),
    ("every day at 9 p.m.", "cron", "0 21 * * *", UTC),
    ("every day at 12am", "cron", "0 0 * * *", UTC),
    ("every day at 12pm", "cron", "0 12 * * *", UTC),
    ("every day at 00:15", "cron", "15 0 * * *", UTC),
    ("every day at 9 o'clock", "cron", "0 9 * * *", UTC),
    ("at 9 in the evening every day", "cron", "0 21 * * *", UTC),
    ("every night at 11", "cron", "0 23 * * *", UTC),
    ("every evening at 6", "cron", "0 18 * * *", UTC),
    ("every morning at 7:30", "cron", "30 7 * * *", UTC),
    ("at 6:00 every morning", "cron", "0 6 * * *", UTC),
    ("at 9am and 5pm every day", "cron", "0 9,17 * * *", UTC),
    ("every day at 9:30 and 17:30", "cron", "30 9,17 * * *", UTC),
    ("daily at 8am, noon and 4pm", "cron", "0 8,12,16 * * *", UTC),
    ("every 24 hours", "cron", "0 0 * * *", UTC),
    ("once a day at 10am", "cron", "0 10 * * *", UTC),
    ("run the backup every night at 2am", "cron", "0 2 * * *", UTC),
    ("every day except sunday at 7am", "cron", "0 7 * * 1-6", UTC),
    # weekdays, weekends, named days, lists and ranges
    ("every weekday at 9am", "cron", "0 9 * * 1-5", UTC),
    ("Every Weekday At 9AM!!", "cron", "0 9 * * 1-5", UTC),
    ("weekdays at 6pm", "cron", "0 18 * * 1-5", UTC),
    ("on weekdays at 9", "cron", "0 9 * * 1-5", UTC),
    ("mon-fri 9am", "cron", "0 9 * * 1-5", UTC),
    ("monday to friday at 8:00", "cron", "0 8 * * 1-5", UTC),
    ("every workday at 8:30am", "cron", "30 8 * * 1-5", UTC),
    ("business days at 7am", "cron", "0 7 * * 1-5", UTC),
    ("every weekend at 10am", "cron", "0 10 * * 0,6", UTC),
    ("weekends at noon", "cron", "0 12 * * 0,6", UTC),
    ("every saturday and sunday at 10", "cron", "0 10 * * 0,6", UTC),
    ("every monday", "cron", "0 0 * * 1", UTC),
    ("every monday at 9am", "cron", "0 9 * * 1", UTC),
    ("mondays at 9", "cron", "0 9 * * 1", UTC),
    ("on mondays at 10:15", "cron", "15 10 * * 1", UTC),
    ("every tuesday at 4pm", "cron", "0 16 * * 2", UTC),
    ("every wednesday at noon", "cron", "0 12 * * 3", UTC),
    ("thursdays at 3:30pm", "cron", "30 15 * * 4", UTC),
    ("every friday at 5pm", "cron", "0 17 * * 5", UTC),
    ("every saturday at 8am", "cron", "0 8 * * 6", UTC),
    ("every sunday at 11:30pm", "cron", "30 23 * * 0", UTC),
    ("mon, wed and fri at 10am", "cron", "0 10 * * 1,3,5", UTC),
    ("every monday, wednesday, and friday at 7:45 am", "cron", "45 7 * * 1,3,5", UTC),
    ("tue & thu at 2pm", "cron", "0 14 * * 2,4", UTC),
    ("tuesday through thursday at 8", "cron", "0 8 * * 2-4", UTC),
    ("every tuesday thru thursday at 8am", "cron", "0 8 * * 2-4", UTC),
    ("every weekday at 8:30am and 4:30pm", "cron", "30 8,16 * * 1-5", UTC),
    ("weekly", "cron", "0 0 * * 0", UTC),
    ("every week", "cron", "0 0 * * 0", UTC),
    ("weekly on monday at 9", "cron", "0 9 * * 1", UTC),
    ("every week on friday at 4pm", "cron", "0 16 * * 5", UTC),
    ("every weekday morning", "cron", "0 9 * * 1-5", UTC),
    # time windows (end hour not included)
    ("every 15 minutes between 9 and 5 on weekdays", "cron", "*/15 9-16 * * 1-5", UTC),
    ("every 15 minutes from 9am to 5pm on weekdays", "cron", "*/15 9-16 * * 1-5", UTC),
    ("every 10 minutes from 8am to 6pm mon-fri", "cron", "*/10 8-17 * * 1-5", UTC),
    ("every 30 minutes between 9am and 5pm", "cron", "*/30 9-16 * * *", UTC),
    # Business hours are Monday–Friday 9–17, never weekends (docs/time.md, "Reading schedules
    # from English").
    ("every 30m during business hours", "cron", "*/30 9-16 * * 1-5", UTC),
    ("every 15 minutes during business hours", "cron", "*/15 9-16 * * 1-5", UTC),
    ("every hour during business hours", "cron", "0 9-16 * * 1-5", UTC),
    ("every 15 minutes during business hours on saturday", "cron", "*/15 9-16 * * 6", UTC),
    ("every 5 minutes during business hours on weekdays", "cron", "*/5 9-16 * * 1-5", UTC),
    ("every 20 min from 9 to 11", "cron", "*/20 9-10 * * *", UTC),
    ("every hour between 9 and 17 on weekdays", "cron", "0 9-16 * * 1-5", UTC),
    ("hourly from 8am to 8pm", "cron", "0 8-19 * * *", UTC),
    ("every 2 hours between 9am and 5pm on weekdays", "cron", "0 9,11,13,15 * * 1-5", UTC),
    ("every 15 minutes between 10pm and 2am", "cron", "*/15 0-1,22-23 * * *", UTC),
    ("every 5 minutes on weekends", "cron", "*/5 * * * 0,6", UTC),
    ("every 3 hours starting at 8am", "cron", "0 8,11,14,17,20,23 * * *", UTC),
    ("every 8 hours starting at 6am", "cron", "0 6,14,22 * * *", UTC),
    # day of month, monthly, quarterly, yearly
    ("on the 1st", "cron", "0 0 1 * *", UTC),
    ("on the 1st at 9am", "cron", "0 9 1 * *", UTC),
    ("the 15th of every month", "cron", "0 0 15 * *", UTC),
    ("on the 15th of each month at 10:00", "cron", "0 10 15 * *", UTC),
    ("every 15th at 10am", "cron", "0 10 15 * *", UTC),
    ("every 3rd of the month at noon", "cron", "0 12 3 * *", UTC),
    ("on the 10th and 20th of each month at 6am", "cron", "0 6 10,20 * *", UTC),
    ("at noon on the 1st and 15th", "cron", "0 12 1,15 * *", UTC),
    ("day 15 of every month at 9", "cron", "0 9 15 * *", UTC),
    ("monthly", "cron", "0 0 1 * *", UTC),
    ("monthly on the 15th at 9am", "cron", "0 9 15 * *", UTC),
    ("every month on the 1st at 8:30", "cron", "30 8 1 * *", UTC),
    ("first monday of the month at 9", "cron", "0 9 1-7 * 1", UTC),
    ("every second tuesday of the month at 10am", "cron", "0 10 8-14 * 2", UTC),
    # the last day, the last weekday, the n-th weekday; public holidays ("|US": exclude them)
    ("on the last day of the month at 6pm", "cron", "0 18 L * *", UTC),
    ("last weekday of the month at 5pm", "cron", "0 17 LW * *", UTC),
    ("at the end of every month", "cron", "0 0 L * *", UTC),
    ("monthly on the last day at 9", "cron", "0 9 L * *", UTC),
    ("on the last friday of each month", "cron", "0 0 * * 5L", UTC),
    ("every month on the last friday at 10am", "cron", "0 10 * * 5L", UTC),
    ("the last sunday of the month at noon", "cron", "0 12 * * 0L", UTC),
    ("the second tuesday of every month", "cron", "0 0 * * 2#2", UTC),
    ("on the third thursday of the month at 18:30", "cron", "30 18 * * 4#3", UTC),
    ("on the 1st and 15th", "cron", "0 0 1,15 * *", UTC),
    ("weekdays at 9 except us holidays", "cron", "0 9 * * 1-5|US", UTC),
    ("every weekday at 9am except US public holidays", "cron", "0 9 * * 1-5|US", UTC),
    ("daily at 8 excluding uk bank holidays", "cron", "0 8 * * *|GB", UTC),
    ("weekdays at 7:30 except holidays in DE-BY", "cron", "30 7 * * 1-5|DE-BY", UTC),
    ("quarterly", "cron", "0 0 1 1,4,7,10 *", UTC),
    ("quarterly on the 15th at 9am", "cron", "0 9 15 1,4,7,10 *", UTC),
    ("every 3 months on the 15th", "cron", "0 0 15 1,4,7,10 *", UTC),
    ("every 6 months", "cron", "0 0 1 1,7 *", UTC),
    ("every other month", "cron", "0 0 1 1,3,5,7,9,11 *", UTC),
    ("every jan 1st", "cron", "0 0 1 1 *", UTC),
    ("every jan 1st at 9am", "cron", "0 9 1 1 *", UTC),
    ("yearly", "cron", "0 0 1 1 *", UTC),
    ("annually", "cron", "0 0 1 1 *", UTC),
    ("every year", "cron", "0 0 1 1 *", UTC),
    ("yearly on march 5", "cron", "0 0 5 3 *", UTC),
    ("every year on december 25th at 8am", "cron", "0 8 25 12 *", UTC),
    ("every july 4th at noon", "cron", "0 12 4 7 *", UTC),
    ("every feb 29", "cron", "0 0 29 2 *", UTC),
    ("every june, july and august on the 1st at 10am", "cron", "0 10 1 6-8 *", UTC),
    ("every day from june through august at 7", "cron", "0 7 * 6-8 *", UTC),
    ("at 9am every weekday in january", "cron", "0 9 * 1 1-5", UTC),
    # time zones: IANA names, abbreviations, cities
    ("every weekday at 9am Pacific", "cron", "0 9 * * 1-5", LA),
    ("every day at 9am PT", "cron", "0 9 * * *", LA),
    ("every day at 9am PST", "cron", "0 9 * * *", LA),
    ("every day at 9am PDT", "cron", "0 9 * * *", LA),
    ("every day at 8 est", "cron", "0 8 * * *", NY),
    ("every thursday at 3pm eastern", "cron", "0 15 * * 4", NY),
    ("every day at 10am ET", "cron", "0 10 * * *", NY),
    ("every day at 10am CT", "cron", "0 10 * * *", "America/Chicago"),
    ("every day at 10am MT", "cron", "0 10 * * *", "America/Denver"),
    ("daily at 6 pm CET", "cron", "0 18 * * *", "Europe/Paris"),
    ("daily at 6pm CEST", "cron", "0 18 * * *", "Europe/Paris"),
    ("every day at 9am GMT", "cron", "0 9 * * *", UTC),
    ("every day at 9am BST", "cron", "0 9 * * *", "Europe/London"),
    ("every day at 9am UTC", "cron", "0 9 * * *", UTC),
    ("every day at 17:00 JST", "cron", "0 17 * * *", "Asia/Tokyo"),
    ("every day at 9 ist", "cron", "0 9 * * *", "Asia/Kolkata"),
    ("every friday at 5pm AEST", "cron", "0 17 * * 5", "Australia/Sydney"),
    ("every day at 9am London time", "cron", "0 9 * * *", "Europe/London"),
    ("every monday at 10 in Tokyo", "cron", "0 10 * * 1", "Asia/Tokyo"),
    ("at 8am in New York every day", "cron", "0 8 * * *", NY),
    ("every day at 9am in paris", "cron", "0 9 * * *", "Europe/Paris"),
    ("every monday at 9am sydney time", "cron", "0 9 * * 1", "Australia/Sydney"),
    ("every weekday at 9am Europe/Berlin", "cron", "0 9 * * 1-5", "Europe/Berlin"),
    ("every day at 9am (Europe/Amsterdam)", "cron", "0 9 * * *", "Europe/Amsterdam"),
    ("at 10:00 am on weekends Asia/Kolkata", "cron", "0 10 * * 0,6", "Asia/Kolkata"),
    ("every day at 9am san francisco time", "cron", "0 9 * * *", LA),
    ("every day at 9am UTC+2", "cron", "0 9 * * *", "Etc/GMT-2"),
    ("every weekday at 9am", "cron", "0 9 * * 1-5", NY, NY),
    ("every day at 7am London time", "cron", "0 7 * * *", "Europe/London", NY),
    # relative one-offs
    ("in 30 minutes", "at", "2026-11-25T10:30", UTC),
    ("in 5 min", "at", "2026-11-25T10:05", UTC),
    ("in 90 seconds", "at", "2026-11-25T10:01:30", UTC),
    ("in an hour", "at", "2026-11-25T11:00", UTC),
    ("in half an hour", "at", "2026-11-25T10:30", UTC),
    ("in 2 hours and 30 minutes", "at", "2026-11-25T12:30", UTC),
    ("in 3 days", "at", "2026-11-28T10:00", UTC),
    ("in 1 week", "at", "2026-12-02T10:00", UTC),
    ("in 2 months", "at", "2027-01-25T10:00", UTC),
    ("5 minutes from now", "at", "2026-11-25T10:05", UTC),
    ("an hour from now", "at", "2026-11-25T11:00", UTC),
    ("in 3 days at 9am", "at", "2026-11-28T09:00", UTC),
    ("tomorrow at 3pm", "at", "2026-11-26T15:00", UTC),
    ("tomorrow at 9:30", "at", "2026-11-26T09:30", UTC),
    ("tomorrow at noon", "at", "2026-11-26T12:00", UTC),
    ("tomorrow", "at", "2026-11-26T00:00", UTC),
    ("today at 5pm", "at", "2026-11-25T17:00", UTC),
    ("tonight at 8", "at", "2026-11-25T20:00", UTC),
    ("the day after tomorrow at 10", "at", "2026-11-27T10:00", UTC),
    # "next friday" on a Wednesday is the Friday of next week (docs/time.md), flagged in warnings.
    ("next friday at 10", "at", "2026-12-04T10:00", UTC),
    ("this friday at 10", "at", "2026-11-27T10:00", UTC),
    ("next thursday at 9am", "at", "2026-12-03T09:00", UTC),
    ("next monday at 9am", "at", "2026-11-30T09:00", UTC),
    ("next wednesday at 8am", "at", "2026-12-02T08:00", UTC),
    ("this friday at 5pm", "at", "2026-11-27T17:00", UTC),
    ("tomorrow at 3pm Pacific", "at", "2026-11-26T15:00", LA),
    ("tomorrow at 9am", "at", "2026-11-26T09:00", LA, LA),
    ("in 2 hours", "at", "2026-11-25T12:00", NY, NY),
    # absolute one-offs
    ("on March 5 2027 at 14:00 UTC", "at", "2027-03-05T14:00", UTC),
    ("march 5th, 2027 at 2pm", "at", "2027-03-05T14:00", UTC),
    ("on 5 march 2027 at 9:30", "at", "2027-03-05T09:30", UTC),
    ("15 march 2027 9am", "at", "2027-03-15T09:00", UTC),
    ("january 15, 2027 at 8:30am", "at", "2027-01-15T08:30", UTC),
    ("on 2027-01-15 at 08:30", "at", "2027-01-15T08:30", UTC),
    ("2027-03-05T14:00Z", "at", "2027-03-05T14:00", UTC),
    ("12/25/2026 at 9am", "at", "2026-12-25T09:00", UTC),
    ("on dec 25 at 8am", "at", "2026-12-25T08:00", UTC),
    ("jan 1st at midnight", "at", "2027-01-01T00:00", UTC),
    ("on the 5th of march at 10am", "at", "2027-03-05T10:00", UTC),
    ("on March 5 2027 at 9am Eastern", "at", "2027-03-05T09:00", NY),
    # typos and plurals
    ("evry day at 8pm", "cron", "0 20 * * *", UTC),
    ("every wednesay at 9am", "cron", "0 9 * * 3", UTC),
    ("every wendsday at noon", "cron", "0 12 * * 3", UTC),
    ("every tuesdya at 9", "cron", "0 9 * * 2", UTC),
    ("evrey monday at 8am", "cron", "0 8 * * 1", UTC),
    ("every 10 minuets", "cron", "*/10 * * * *", UTC),
    ("every thrusday at 4pm", "cron", "0 16 * * 4", UTC),
    ("tommorow at 9am", "at", "2026-11-26T09:00", UTC),
    ("every satruday at 10am", "cron", "0 10 * * 6", UTC),
    ("every mondays at 8", "cron", "0 8 * * 1", UTC),
    ("every weekdy at 9am", "cron", "0 9 * * 1-5", UTC),
    ("evry 15 minutes", "cron", "*/15 * * * *", UTC),
    # cron typed as is
    ("0 9 * * 1-5", "cron", "0 9 * * 1-5", UTC),
    ("*/5 * * * *", "cron", "*/5 * * * *", UTC),
    ("@daily", "cron", "0 0 * * *", UTC),
]

REFUSALS: list[str] = [
    "buy milk",
    "hello",
    "",
    "   ",
    "the weather is nice",
    "remind me to buy milk",
    "call mom",
    "every",
    "every blorf",
    "at 25:00",
    "at 13pm",
    "at 9:75",
    "at 0:60",
    "at 99",
    "tomorrow at 24:30",
    "February 30th",
    "april 31",
    "on the 32nd",
    "2027-02-30 at 9",
    "13/13/2027",
    "every 0 minutes",
    "every 0 hours",
    "every -5 minutes",
    "in 0 minutes",
    "every 5 months",
    "every 2 years",
    "every 30 seconds on weekdays",
    "every 45 minutes between 9 and 5",
    "between 9 and 5",
    "every 2 weeks at 9am",
    "last friday",
    "on the last day",
    "the last day of the month on the 15th",
    "weekdays at 9 except holidays",
    "weekdays at 9 except narnian holidays",
    "tomorrow at 9 except us holidays",
    "every monday on the 15th",
    "yesterday at 5pm",
    "on March 5 2020",
    "today at 9am",
    "every day at 9am and 5:30pm",
    "every day at 9am pacific and eastern",
    "every day at 9am Mars/Olympus",
]


def default_zone(case: Case) -> str:
    return case[4] if len(case) == 5 else UTC


def now_for(case: Case) -> dt.datetime:
    """The fixed ``now``: 2026-11-25 10:00 in the case's default zone."""
    from domain.timezones import load_timezone

    return NOW_LOCAL.replace(tzinfo=load_timezone(default_zone(case)))


def expected_schedule(case: Case) -> CronSchedule | EverySchedule | AtSchedule:
    from domain.timezones import load_timezone

    kind, value, zone = case[1], case[2], case[3]
    if kind == "cron":
        # "<expression>|<holiday calendar>": the schedule excludes that calendar's holidays.
        expression, _, holidays = str(value).partition("|")
        exclude = {"exclude": {"holidays": holidays}} if holidays else {}
        return CronSchedule.model_validate(
            {"type": "cron", "expression": expression, "timezone": zone, **exclude}
        )
    if kind == "every":
        if isinstance(value, tuple):
            interval, first = value
            local = dt.datetime.fromisoformat(first).replace(tzinfo=load_timezone(zone))
            offset = int(local.timestamp()) % interval
            return EverySchedule(type="every", interval=interval, offset=offset, timezone=zone)
        return EverySchedule(type="every", interval=value, timezone=zone)
    return AtSchedule(type="at", datetime=dt.datetime.fromisoformat(str(value)), timezone=zone)


def fire_times(
    schedule: CronSchedule | EverySchedule | AtSchedule, after: dt.datetime, count: int = 20
) -> list[dt.datetime]:
    return next_fire_times(schedule, after=after, count=count)


def _instants(schedule: CronSchedule, after: dt.datetime) -> list[dt.datetime]:
    # In UTC: two aware times that share a tzinfo compare by wall clock, ignoring ``fold``,
    # so the two 01:30s of a fall-back night in the schedule's own zone would look equal.
    return [t.astimezone(dt.UTC) for t in fire_times(schedule, after)]


def same_schedule(
    got: CronSchedule | EverySchedule | AtSchedule,
    want: CronSchedule | EverySchedule | AtSchedule,
    after: dt.datetime,
) -> bool:
    """Cron by its next 20 fire times after ``after`` and after ``SUMMER``, as UTC instants;
    every and at by value, zone included."""
    if isinstance(want, CronSchedule):
        return isinstance(got, CronSchedule) and all(
            _instants(got, start) == _instants(want, start) for start in (after, SUMMER)
        )
    if isinstance(want, EverySchedule):
        return (
            isinstance(got, EverySchedule)
            and got.interval == want.interval
            and got.offset == want.offset
            and got.timezone == want.timezone
        )
    return (
        isinstance(got, AtSchedule)
        and got.datetime == want.datetime
        and (got.timezone == want.timezone)
    )


from domain.schedules import (  # noqa: E402 - after the data, which is the point of this file
    AtSchedule,
    CronSchedule,
    EverySchedule,
    next_fire_times,
)
