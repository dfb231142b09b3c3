"""Webhook signatures: a per-owner secret derived from one server key.

Each owner's secret is ``whsec_`` + HMAC-SHA256(server key, ``"webhook:" + owner``), so it needs
no storage and every API replica and worker computes the same one. An owner reads theirs from
``GET /api/scheduler/delivery/webhook-secret``. A delivery carries

- ``X-Agent-Scheduler-Timestamp``: Unix seconds when it was sent;
- ``X-Agent-Scheduler-Signature``: ``sha256=`` + hex HMAC-SHA256(owner secret,
  ``"<timestamp>." + raw body``): the timestamp is signed too, so a receiver that rejects old
  timestamps (say, older than 5 minutes) cannot be fed a replayed request;
- ``X-Agent-Scheduler-Delivery``: the delivery id, the same on every retry, to drop duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from api.core.settings import Settings

KEY_FILE = "webhook-signing.key"


def server_key(settings: Settings) -> bytes:
    """The server's signing key: the setting, or a random key kept in the data dir."""
    if settings.webhook_signing_key:
        return settings.webhook_signing_key.encode()
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic, and never replaces a key another process wrote
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip().encode()


def owner_secret(settings: Settings, owner: str) -> str:
    """The webhook secret of ``owner``."""
    digest = hmac.new(server_key(settings), f"webhook:{owner}".encode(), hashlib.sha256)
    return "whsec_" + digest.hexdigest()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Agent-Scheduler-Signature`` value of a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()
