"""How much of an agent's answer a run carries, and in what form every index can store it.

A run's output and data cross Temporal several times (activity result, the run's record, the
workflow result, delivery, a downstream node's input), each time as one payload that must stay
under Temporal's 2 MB limit. And the index stores them as text and JSON on SQLite or
PostgreSQL: a NUL character, a lone surrogate or a NaN cannot be stored on both (docs/api.md,
"Run object"), so they never get that far.
"""

from __future__ import annotations

import re
from typing import Any

MAX_OUTPUT_CHARS = 1_000_000
MAX_DATA_BYTES = 256 * 1024
# Nesting of an answer's JSON: deeper data is dropped; an answer too deep to parse is refused.
MAX_DATA_DEPTH = 64
# What is read of an answer body at most; a longer body is refused before it is parsed.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
REPLACEMENT = "\ufffd"

# NUL (PostgreSQL text refuses it) and surrogates: json.loads joins a valid pair into one
# character, so any surrogate left in a str is a lone one, which no UTF-8 encoder accepts.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def fit(text: str, limit: int, note: str) -> str:
    """``text`` if it has at most ``limit`` characters, else its start and ``note`` in ``limit``
    (only the start of ``note`` when even the note is longer than ``limit``)."""
    if len(text) <= limit:
        return text
    if len(note) >= limit:
        return note[:limit]
    return text[: limit - len(note)] + note


def cut_output(output: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """An agent's output within ``limit`` characters, ending with a note if it was cut."""
    return fit(
        output,
        limit,
        f"\n\n… (cut by agent-scheduler: the agent answered {len(output):,} characters; "
        f"this keeps the first {limit:,})",
    )


def storable_text(text: str) -> tuple[str, int]:
    """``text`` with each NUL and lone surrogate replaced by U+FFFD, and how many were."""
    return _UNSTORABLE.subn(REPLACEMENT, text)


def storable(value: Any) -> tuple[Any, int]:
    """A JSON value with its strings (object keys too) made storable, and how many characters
    were replaced. A NaN or infinity, which JSON does not have, becomes null (counted too)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None, 1
    if isinstance(value, dict):
        cleaned: dict[str, Any] = {}
        replaced = 0
        for key, item in value.items():
            key, in_key = storable_text(key) if isinstance(key, str) else (key, 0)
            cleaned[key], in_item = storable(item)
            replaced += in_key + in_item
        return cleaned, replaced
    if isinstance(value, list):
        items = [storable(item) for item in value]
        return [item for item, _ in items], sum(count for _, count in items)
    return value, 0


def depth(value: Any) -> int:
    """How deeply ``value`` nests objects and arrays (a scalar: 0), without recursion."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children)
    return deepest
