"""The user's retry policy for the agent call (SPEC §8) and the delays it prescribes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.inputs import JsonInt, JsonNumber


class RetryPolicy(BaseModel):
    """Attempts of the agent call and the delays between them."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: JsonInt = Field(1, ge=1, le=100, description="Total attempts, first included.")
    strategy: Literal["exponential", "linear", "fixed"] = "exponential"
    base_delay: JsonNumber = Field(60, ge=0, le=86_400, description="Seconds.")
    max_delay: JsonNumber | None = Field(None, ge=0, le=604_800, description="Cap, in seconds.")

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one."""
        if self.strategy == "exponential":
            delay = self.base_delay * 2 ** (attempt - 1)
        elif self.strategy == "linear":
            delay = self.base_delay * attempt
        else:
            delay = self.base_delay
        return delay if self.max_delay is None else min(delay, self.max_delay)
