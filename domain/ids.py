"""Prefixed, URL-safe identifiers (``job_…``, ``run_…``, ``chain_…``, ``key_…``)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits


def new_id(prefix: str, length: int = 12) -> str:
    """A random id such as ``job_k3x9a0q1m2zp``."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))
