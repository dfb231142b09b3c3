"""Audit log models: one event, a page of them (docs/api.md, "Audit log")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

AuditAction = Literal[
    "job.create",
    "job.update",
    "job.pause",
    "job.resume",
    "job.delete",
    "job.trigger",
    "job.backfill",
    "job.skip",
    "job.unskip",
    "run.cancel",
    "run.redeliver",
    "key.create",
    "key.revoke",
    "hook.create",
    "hook.delete",
    "incident.ack",
]
"""The changes the audit log records."""


class AuditEventPublic(BaseModel):
    """One recorded change."""

    id: int
    at: datetime
    action: str = Field(description="What was done, e.g. `job.update`.")
    job_id: str | None
    target_id: str | None = Field(
        description="The run, backfill, key, hook or incident it was about, if any."
    )
    actor_kind: Literal["key", "hook", "system"]
    actor_id: str = Field(
        description="The key's id, the hook's id, or the system's part (`recorder`)."
    )
    actor_name: str | None = Field(description="The key's name.")
    transport: Literal["rest", "mcp"] | None = Field(description="How a key's call came.")
    request_id: str | None = Field(
        description="The request's id (its `X-Request-Id`, the caller's or a new `req_…`); "
        "null for the system's changes."
    )
    idempotency_key: str | None = Field(description="The request's `Idempotency-Key`, if sent.")
    changes: dict[str, Any] | None = Field(
        description='An update\'s changed fields (`{"field": {"before": …, "after": …}}`), a '
        "pause's reason, a skip's instant."
    )


class AuditEventsPublic(BaseModel):
    """A page of events, newest first; ``count`` is the total matching the filters."""

    events: list[AuditEventPublic]
    count: int
