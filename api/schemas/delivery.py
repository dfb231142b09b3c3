"""Models of the delivery routes: the dev outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class OutboxMessagePublic(BaseModel):
    """A delivery kept in the dev outbox: what its channel would have received."""

    id: int
    delivery_id: str
    run_id: str
    job_id: str
    job_name: str
    channel: str
    provider: Literal["slack", "email"]
    format: str
    content: dict[str, Any] = Field(
        description="Slack: `texts` (the mrkdwn messages, the first to the channel, the rest "
        "in its thread), `mrkdwn`, `truncated`; e-mail: `to`, `from`, `subject`, `text`, "
        "`html`, `truncated`."
    )
    created_at: datetime


class OutboxPage(BaseModel):
    """A page of the caller's outbox, newest first."""

    enabled: bool = Field(description="Whether this server keeps deliveries in the outbox.")
    messages: list[OutboxMessagePublic]
    count: int
