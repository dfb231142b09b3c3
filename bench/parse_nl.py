"""Natural-language schedule parsing: our rule parser next to the ``recurrent`` library.

    .venv/bin/python bench/parse_nl.py [--rounds 20]

Both read every phrase of ``tests/helpers/nl_corpus.py`` (the same corpus the tests use) with the
same fixed ``now`` (2026-11-25 10:00 in the case's default zone), in this process; latency is the
wall time of one call per phrase, measured ``--rounds`` times (first round cold), reported as
p50/p99 over all calls.

Accuracy: ours is judged exactly as in the tests (cron by its next 20 fire instants from ``now``
and from a summer date, every and at by value, zone included). ``recurrent`` knows no time
zones and answers an RRULE string, a naive datetime or nothing, so it is judged leniently, on
local wall times with the zone ignored:

- expected ``cron``: its RRULE, expanded with dateutil from DTSTART = ``now`` (local, naive),
  must give the same next 20 local wall times as the expected cron;
- expected ``every``: its RRULE must be a plain FREQ (SECONDLY … WEEKLY) × INTERVAL with no
  BY* parts, of the same length in seconds;
- expected ``at``: its datetime must equal the expected local wall time.
- refusals: it must answer nothing (None), or we must raise ``NotASchedule``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dateutil.rrule import rrulestr  # type: ignore[import-untyped]
from recurrent.event_parser import RecurringEvent  # type: ignore[import-untyped]

from domain.nl import NotASchedule, parse_text
from domain.schedules import AtSchedule, CronSchedule, EverySchedule
from domain.timezones import load_timezone
from tests.helpers.nl_corpus import (
    CASES,
    NOW_LOCAL,
    REFUSALS,
    Case,
    default_zone,
    expected_schedule,
    fire_times,
    now_for,
    same_schedule,
)

_FREQ_SECONDS = {"SECONDLY": 1, "MINUTELY": 60, "HOURLY": 3600, "DAILY": 86400, "WEEKLY": 604800}


def ours(case: Case) -> bool:
    want = expected_schedule(case)
    try:
        got = parse_text(case[0], timezone=default_zone(case), now=now_for(case)).schedule
    except NotASchedule:
        return False
    return same_schedule(got, want, now_for(case))


def recurrent_answer(text: str) -> Any:
    try:
        return RecurringEvent(now_date=NOW_LOCAL).parse(text)
    except Exception:  # noqa: BLE001 - a crash is a wrong answer
        return None


def recurrent_right(case: Case, answer: Any) -> bool:
    want = expected_schedule(case)
    now = now_for(case)
    if isinstance(want, AtSchedule):
        local = want.datetime.astimezone(load_timezone(want.timezone)).replace(tzinfo=None)
        return isinstance(answer, dt.datetime) and answer.replace(microsecond=0) == local
    if not isinstance(answer, str) or not answer.startswith("RRULE:"):
        return False
    parts = dict(item.split("=", 1) for item in answer[len("RRULE:") :].split(";"))
    if isinstance(want, EverySchedule):
        if any(key.startswith("BY") for key in parts) or parts.get("FREQ") not in _FREQ_SECONDS:
            return False
        return _FREQ_SECONDS[parts["FREQ"]] * int(parts.get("INTERVAL", "1")) == want.interval
    assert isinstance(want, CronSchedule)
    try:
        rule = rrulestr(answer, dtstart=NOW_LOCAL)
        theirs = []
        current = NOW_LOCAL
        for _ in range(20):
            nxt = rule.after(current)
            if nxt is None:
                break
            theirs.append(nxt)
            current = nxt
    except (ValueError, TypeError):
        return False
    zone = load_timezone(want.timezone)
    local_now = now.astimezone(zone)
    expected = [t.astimezone(zone).replace(tzinfo=None) for t in fire_times(want, local_now)]
    return theirs == expected


def timed(fn: Any, rounds: int, items: list[Any]) -> list[float]:
    samples: list[float] = []
    for _ in range(rounds):
        for item in items:
            started = time.perf_counter_ns()
            fn(item)
            samples.append((time.perf_counter_ns() - started) / 1e6)
    return samples


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="timed passes over the corpus")
    args = parser.parse_args()

    def ours_call(case: Case) -> None:
        try:
            parse_text(case[0], timezone=default_zone(case), now=now_for(case))
        except NotASchedule:
            pass

    def ours_refuses(text: str) -> bool:
        try:
            parse_text(text, now=now_for((text, "", "", "UTC")))
        except NotASchedule:
            return True
        return False

    our_hits = sum(ours(case) for case in CASES)
    their_hits = sum(recurrent_right(case, recurrent_answer(case[0])) for case in CASES)
    our_refusals = sum(ours_refuses(text) for text in REFUSALS)
    their_refusals = sum(not recurrent_answer(text) for text in REFUSALS)
    our_times = timed(ours_call, args.rounds, CASES)
    their_times = timed(lambda case: recurrent_answer(case[0]), args.rounds, CASES)

    n, r = len(CASES), len(REFUSALS)

    def share(hits: int, total: int) -> str:
        return f"{hits}/{total} {hits / total:.1%}"

    rows = [
        ("phrases right", share(our_hits, n), share(their_hits, n)),
        ("refusals right", share(our_refusals, r), share(their_refusals, r)),
        ("p50 ms/phrase", f"{p(our_times, 50):.3f}", f"{p(their_times, 50):.3f}"),
        ("p99 ms/phrase", f"{p(our_times, 99):.3f}", f"{p(their_times, 99):.3f}"),
        ("max ms/phrase", f"{max(our_times):.3f}", f"{max(their_times):.3f}"),
    ]
    version = sys.version.split()[0]
    print(f"corpus: {n} phrases, {r} refusals; {args.rounds} timed rounds; Python {version}")
    print(f"{'':16} {'ours (domain.nl)':>22} {'recurrent 0.4.1':>22} {'ratio (them/us)':>16}")
    for label, a, b in rows:
        ratio = ""
        if "ms" in label:
            ratio = f"{float(b) / float(a):.1f}x"
        print(f"{label:16} {a:>22} {b:>22} {ratio:>16}")


if __name__ == "__main__":
    main()
