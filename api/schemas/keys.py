"""API key models (docs/api.md, "Keys and scopes"): a key as shown, a new key with its secret,
a page of keys, and what creating one takes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.services.access import AS_SECONDS, KeyLimits, Scope, duration_schema
from domain.inputs import Text

# At most ten years ahead: a key's expiry and a rotation's overlap.
MAX_KEY_SECONDS = 3650 * 86_400
ExpirySeconds = Annotated[
    int, AS_SECONDS, Field(ge=1, le=MAX_KEY_SECONDS), duration_schema(1, MAX_KEY_SECONDS)
]
OverlapSeconds = Annotated[
    int, AS_SECONDS, Field(ge=0, le=MAX_KEY_SECONDS), duration_schema(0, MAX_KEY_SECONDS)
]


class KeyCreate(BaseModel):
    """A new key of the caller's owner."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = Field(None, max_length=200, description="What the key is for.")
    scope: Scope | None = Field(
        None, description="`read`, `write` or `admin`; default `write` (or the replaced key's)."
    )
    expires_in: ExpirySeconds | None = Field(
        None,
        description="Seconds (or a duration such as `30d`) until it stops working; default never.",
    )
    limits: KeyLimits | None = Field(
        None, description="The key's limits (default none, or the replaced key's)."
    )
    replaces: Text | None = Field(
        None, max_length=40, description="Rotation: the id of the key this one replaces."
    )
    overlap: OverlapSeconds = Field(
        86_400,
        description="Rotation: how long the replaced key keeps working (seconds or a duration; "
        "default `24h`).",
    )


class KeyPublic(BaseModel):
    """A key as shown (never its secret after it was created)."""

    id: str
    name: str | None
    prefix: str = Field(description="Its first characters, to tell keys apart.")
    scope: Scope
    limits: KeyLimits | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Updated at most once a minute.")
    revoked_at: datetime | None


class KeyCreated(KeyPublic):
    """A new key, with its secret: shown this once."""

    key: str = Field(description="The secret: send it as `Authorization: Bearer <key>`.")


class KeysPublic(BaseModel):
    """The owner's keys, newest first."""

    keys: list[KeyPublic]
    count: int
