"""How much of an agent's answer a run carries.

A run's output and data cross Temporal several times (activity result, the run's record, the
workflow result, delivery, a downstream node's input), each time as one payload that must stay
under Temporal's 2 MB limit.
"""

from __future__ import annotations

MAX_OUTPUT_CHARS = 1_000_000
MAX_DATA_BYTES = 256 * 1024


def cut_output(output: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """``output`` if it fits in ``limit`` characters, else its start and a note of the cut."""
    if len(output) <= limit:
        return output
    note = (
        f"\n\n… (cut by agent-scheduler: the agent answered {len(output):,} characters; "
        f"this keeps the first {limit:,})"
    )
    return output[: max(limit - len(note), 0)] + note
