"""Hook payloads (docs/api.md, "Hooks")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class HookPublic(BaseModel):
    """A hook of a job, without its secret."""

    id: str
    job_id: str
    url: str = Field(description="Where to send deliveries: `POST` this URL (no API key).")
    created_at: datetime


class HookCreated(HookPublic):
    """A hook just made: its secret is shown this once."""

    secret: str = Field(
        description="Signs deliveries (`X-Signature-256`) or is sent as "
        "`Authorization: Bearer <secret>`; shown only in this answer."
    )


class HooksPublic(BaseModel):
    """A job's hooks, oldest first."""

    hooks: list[HookPublic]
    count: int


class HookRunAccepted(BaseModel):
    """Answer of a delivery: the run it started (or, for a delivery id seen before, started)."""

    run_id: str
    job_id: str
    run_url: str = Field(description="The run in the API (`GET`, with the owner's key).")
