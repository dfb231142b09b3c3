"""Recorded workflow histories that replay tests check the workflows against.

``AGENT_SCHEDULER_RECORD_HISTORIES=1`` makes those tests write fresh ones.
"""

from __future__ import annotations

from pathlib import Path

HISTORIES = Path(__file__).parent.parent / "histories"
"""``tests/histories/``: run workflow histories; chain runs under ``chain/``."""
