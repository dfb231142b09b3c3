"""How much of an agent's answer a run carries.

A run's output and data cross Temporal several times (activity result, the run's record, the
workflow result, delivery, a downstream node's input), each time as one payload that must stay
under Temporal's 2 MB limit.
"""

from __future__ import annotations

MAX_OUTPUT_CHARS = 1_000_000
MAX_DATA_BYTES = 256 * 1024


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
