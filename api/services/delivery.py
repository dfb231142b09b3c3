"""Delivery checks that need the settings or the network, and the owner's webhook secret."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.errors import Invalid
from api.core.index import outbox as index_outbox
from api.core.settings import Settings
from api.core.signing import owner_secret
from api.core.targets import TargetRefused, check_target, check_url
from api.schemas.delivery import OutboxMessagePublic, OutboxPage
from domain.delivery import parse_channel


class WebhookSecret(BaseModel):
    """The secret that signs the caller's webhook deliveries."""

    secret: str
    signature_header: str = "X-Agent-Scheduler-Signature"
    timestamp_header: str = "X-Agent-Scheduler-Timestamp"
    scheme: str = "sha256=hex(HMAC-SHA256(secret, '<timestamp>.' + raw body))"


async def check_delivery(settings: Settings, delivery: dict[str, object] | None) -> None:
    """Refuse, with a 422 on ``delivery.channel``, a channel this server cannot or may not use,
    and on ``delivery.only_if_changed`` a semantic comparison without an embeddings API."""
    if not delivery:
        return
    if delivery.get("only_if_changed") == "semantic" and not settings.embeddings_url:
        raise Invalid.field(
            "delivery.only_if_changed",
            "'semantic' needs an embeddings API and this server has none (set "
            "AGENT_SCHEDULER_EMBEDDINGS_URL); true compares outputs exactly",
        )
    channel = parse_channel(str(delivery["channel"]))  # the shape was checked by the schema
    try:
        if channel.provider == "slack" and not settings.slack_token and not settings.dev_outbox:
            raise TargetRefused(
                "Slack delivery is not configured on this server (set AGENT_SCHEDULER_SLACK_TOKEN)"
            )
        if channel.provider == "email" and not settings.smtp_host and not settings.dev_outbox:
            raise TargetRefused(
                "e-mail delivery is not configured on this server (set AGENT_SCHEDULER_SMTP_HOST)"
            )
        if channel.provider == "webhook":
            await check_url(channel.target, allow_private=settings.allow_private_targets)
        if channel.provider == "apprise":
            await check_target(
                channel, allow_private=settings.allow_private_targets, at_delivery=False
            )
    except TargetRefused as exc:
        raise Invalid.field("delivery.channel", str(exc)) from None


def webhook_secret(settings: Settings, owner: str) -> WebhookSecret:
    """The owner's webhook secret."""
    return WebhookSecret(secret=owner_secret(settings, owner))


async def outbox_page(
    session: AsyncSession, settings: Settings, *, owner: str, limit: int, offset: int
) -> OutboxPage:
    """A page of the owner's outbox, newest first."""
    rows, count = await index_outbox.list_messages(session, owner=owner, limit=limit, offset=offset)
    return OutboxPage(
        enabled=settings.dev_outbox,
        messages=[OutboxMessagePublic.model_validate(dict(row._mapping)) for row in rows],
        count=count,
    )
