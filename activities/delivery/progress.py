"""What a delivery has sent so far (shared by the delivery activity and its Slack sender)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.contract.delivery import DeliverResult


@dataclass
class Progress:
    """Messages the receiver accepted (and the Slack thread of the rest); ``done`` once all
    went through."""

    posted: int = 0
    thread_ts: str | None = None
    done: DeliverResult | None = None

    @classmethod
    def of(cls, details: dict[str, Any]) -> Progress:
        """The progress a heartbeat carried."""
        return cls(posted=int(details.get("posted", 0)), thread_ts=details.get("thread_ts"))

    def details(self) -> dict[str, Any]:
        """The heartbeat details of this progress."""
        return {"posted": self.posted, "thread_ts": self.thread_ts}
