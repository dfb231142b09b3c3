"""Delivery channels (``<provider>:<target>``) and a run's ``delivery`` field.

Providers of our own: ``slack:#channel``, ``webhook:https://…`` and ``email:addr``. Every other
prefix is a scheme of `Apprise <https://github.com/caronc/apprise>`_ (``discord:…``,
``tgram:…``, ``ntfy:…``, ``pover:…``…): ``discord:ID/TOKEN`` is sent as ``discord://ID/TOKEN``.
Parsing here is pure; whether a target host is public is checked where I/O is allowed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from domain.inputs import JsonBool, JsonNumber, Text, checked_by

Provider = Literal["slack", "webhook", "email", "apprise"]
Format = Literal["markdown", "text", "json"]

_SLACK_TARGET = re.compile(r"^(#[a-z0-9][a-z0-9._-]{0,79}|[CDG][A-Z0-9]{6,20})$")
_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
# Apprise plugins that act on the worker's own machine, never a tenant's target.
_LOCAL_SCHEMES = frozenset(
    {"dbus", "kde", "qt", "glib", "gnome", "macosx", "windows", "syslog", "blink1", "workflow"}
)
_OWN = {"slack", "webhook", "email"}
# Semantic only-news: how many of the job's last delivered outputs an output is compared with,
# and the similarity from which it is a repeat by default.
SEMANTIC_COMPARED = 5
DEFAULT_SIMILARITY_THRESHOLD = 0.92


class ChannelError(ValueError):
    """A channel that cannot be used; the message is user-facing."""


@dataclass(frozen=True)
class Channel:
    """A parsed channel."""

    provider: Provider
    target: str
    scheme: str

    @property
    def apprise_url(self) -> str:
        """The Apprise URL of an ``apprise`` channel."""
        rest = self.target[2:] if self.target.startswith("//") else self.target
        return f"{self.scheme}://{rest}"


@lru_cache(maxsize=1)
def apprise_schemes() -> frozenset[str]:
    """Schemes Apprise can send to (minus those acting on the local machine)."""
    from apprise.manager_plugins import NotificationManager  # heavy; only when needed

    return frozenset(NotificationManager().schemas()) - _LOCAL_SCHEMES - _OWN


def parse_channel(text: str) -> Channel:
    """Parse and check the shape of ``<provider>:<target>``; raises :class:`ChannelError`."""
    provider, sep, target = text.partition(":")
    provider = provider.strip().lower()
    if not sep or not provider or not target.strip():
        raise ChannelError("must look like '<provider>:<target>', e.g. 'slack:#alerts'")
    if target != target.strip() or any(c in target for c in "\r\n\t\0"):
        raise ChannelError("target must not contain whitespace or control characters")
    if provider == "slack":
        if not _SLACK_TARGET.match(target):
            raise ChannelError(
                "slack target must be '#channel-name' (lowercase) or a channel ID like C0123ABCD"
            )
        return Channel("slack", target, provider)
    if provider == "webhook":
        parts = urlsplit(target)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ChannelError("webhook target must be an https:// URL")
        if len(target) > 2000:
            raise ChannelError("webhook URL is longer than 2000 characters")
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise ChannelError("webhook URL has a malformed port") from None
        return Channel("webhook", target, provider)
    if provider == "email":
        name, address = parseaddr(target)
        if name or address != target or not _EMAIL.match(target) or len(target) > 254:
            raise ChannelError("email target must be one plain address, e.g. ops@example.com")
        return Channel("email", target, provider)
    if provider not in apprise_schemes():
        raise ChannelError(
            f"unknown provider '{provider}': use slack, webhook, email or a notification "
            "service scheme such as discord, tgram, msteams, ntfy, pover"
        )
    channel = Channel("apprise", target, provider)
    from apprise import Apprise

    if Apprise.instantiate(channel.apprise_url, suppress_exceptions=True) is None:
        raise ChannelError(f"malformed target for provider '{provider}'")
    return channel


def _only_if_changed(value: Any) -> Any:
    """One clear error for anything but ``true``, ``false`` or ``"semantic"`` (a union alone
    reports one error per member)."""
    if value is True or value is False or value == "semantic":
        return value
    raise ValueError('must be true, false or "semantic"')


OnlyIfChanged = Annotated[JsonBool | Literal["semantic"], BeforeValidator(_only_if_changed)]


class Delivery(BaseModel):
    """Where a run's result goes."""

    model_config = ConfigDict(extra="forbid")

    channel: Annotated[Text, checked_by(parse_channel, ChannelError)] = Field(
        max_length=2100,
        description="`<provider>:<target>`: `slack:#alerts`, `webhook:https://…`, "
        "`email:ops@example.com`, or a notification service scheme (`discord:ID/TOKEN`, "
        "`tgram:BOT/CHAT`, `ntfy:topic`…).",
    )
    only_if_changed: OnlyIfChanged = Field(
        False,
        description="`true`: deliver only when the output (trimmed, whitespace collapsed) "
        'differs from the job\'s last delivered one; `"semantic"`: nor when it is similar to '
        f"one of its last {SEMANTIC_COMPARED}.",
    )
    similarity_threshold: JsonNumber = Field(
        DEFAULT_SIMILARITY_THRESHOLD,
        gt=0,
        le=1,
        description="The cosine similarity of a repeat (semantic).",
    )
    format: Format = "markdown"


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """The cosine similarity of two vectors (0.0 when either is zero or their sizes differ)."""
    if len(a) != len(b):
        return 0.0
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def normalized_output(text: str | None) -> str:
    """An output as only-news delivery compares it: trimmed, every whitespace run one space."""
    return " ".join((text or "").split())


def delivery_status(
    channel: str,
    status: Literal["delivered", "skipped", "failed"],
    *,
    at: datetime,
    error: str | None = None,
    reason: str | None = None,
    messages: int | None = None,
    truncated: bool | None = None,
    outbox: bool = False,
    comparison: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run's ``delivery`` field."""
    record: dict[str, Any] = {"channel": channel, "status": status, "error": error}
    if comparison is not None:
        record["comparison"] = comparison
    if reason is not None:
        record["reason"] = reason
    if messages is not None:
        record["messages"] = messages
    if truncated:
        record["truncated"] = True
    if outbox:
        record["outbox"] = True
    record["at"] = at.isoformat()
    return record
