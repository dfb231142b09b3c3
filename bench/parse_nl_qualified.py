"""Accuracy of the English schedule parser on plain phrases and on phrases with a qualifier.

    .venv/bin/python bench/parse_nl_qualified.py

Not a timing benchmark: it reads every phrase of ``tests/helpers/nl_corpus.py`` once, judged as
the tests judge it (plain: the expected schedule, refusals refused), then each phrase with each
qualifier of ``tests/helpers/nl_qualifiers.py`` appended ("except in july", "until march 31",
"unless it rains", an unknown word…), counted as right (the schedule does what the qualifier
says), refused, flagged (a new warning and a confidence of at most 0.5) or wrong.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from domain.nl import NotASchedule, parse_text
from tests.helpers.nl_corpus import (
    CASES,
    NOW_LOCAL,
    REFUSALS,
    default_zone,
    expected_schedule,
    now_for,
    same_schedule,
)
from tests.helpers.nl_qualifiers import QUALIFIERS, judge_qualified


def main() -> None:
    right = 0
    for case in CASES:
        try:
            got = parse_text(case[0], timezone=default_zone(case), now=now_for(case)).schedule
        except NotASchedule:
            continue
        right += same_schedule(got, expected_schedule(case), now_for(case))
    refused = 0
    for text in REFUSALS:
        try:
            parse_text(text, now=NOW_LOCAL.replace(tzinfo=UTC))
        except NotASchedule:
            refused += 1
    out = sys.stdout.write
    out(f"plain phrases right   {right}/{len(CASES)} {right / len(CASES):.1%}\n")
    out(f"refusals refused      {refused}/{len(REFUSALS)}\n\n")
    out(f"{'qualifier':<32}{'right':>7}{'refused':>9}{'flagged':>9}{'wrong':>7}\n")
    total: Counter[str] = Counter()
    for qualifier in QUALIFIERS:
        verdicts = Counter(judge_qualified(case, qualifier, now_for(case)) for case in CASES)
        total += verdicts
        out(
            f"{qualifier:<32}{verdicts['right']:>7}{verdicts['refused']:>9}"
            f"{verdicts['flagged']:>9}{verdicts['wrong']:>7}\n"
        )
    out(
        f"{'all (' + str(sum(total.values())) + ' phrases)':<32}{total['right']:>7}"
        f"{total['refused']:>9}{total['flagged']:>9}{total['wrong']:>7}\n"
    )


if __name__ == "__main__":
    main()
