"""The dev outbox: a delivery to a provider that is not configured (Slack without a token,
e-mail without SMTP) is kept in the index, rendered as its channel would have received it,
when the settings turn ``dev_outbox`` on (``agent-scheduler dev`` does)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.delivery.email import build_message
from api.core.index import outbox as index_outbox
from api.core.index.models import utcnow
from api.core.settings import Settings
from domain.contract.delivery import DeliverInput, DeliverResult
from domain.delivery import Channel
from domain.render import email_parts, slack_messages


def applies(settings: Settings, channel: Channel) -> bool:
    """Whether this delivery goes to the outbox instead of its provider."""
    if not settings.dev_outbox:
        return False
    if channel.provider == "slack":
        return not settings.slack_token
    if channel.provider == "email":
        return not settings.smtp_host
    return False


def render(settings: Settings, channel: Channel, job: DeliverInput) -> tuple[dict[str, Any], int]:
    """What the channel would have received, and how many messages that is."""
    if channel.provider == "slack":
        messages = slack_messages(job.run, job.format)
        content = {
            "texts": messages.texts,
            "mrkdwn": messages.mrkdwn,
            "truncated": messages.truncated,
        }
        return content, len(messages.texts)
    message, truncated = build_message(settings, channel, job)
    parts = email_parts(job.run, job.format)
    content = {
        "to": channel.target,
        "from": str(message["From"]),
        "subject": parts.subject,
        "text": parts.text,
        "html": parts.html,
        "truncated": truncated,
    }
    return content, 1


async def keep(
    engine: AsyncEngine, settings: Settings, channel: Channel, job: DeliverInput
) -> DeliverResult:
    """Write the rendered delivery to the outbox (once per delivery id)."""
    content, count = render(settings, channel, job)
    values = {
        "delivery_id": job.delivery_id,
        "owner": job.run.owner,
        "run_id": job.run.run_id,
        "job_id": job.run.job_id,
        "job_name": job.run.job_name[:200],
        "channel": job.channel,
        "provider": channel.provider,
        "format": job.format,
        "content": content,
        "created_at": utcnow(),
    }
    async with engine.begin() as conn:
        await index_outbox.keep_message(conn, values=values)
    return DeliverResult(messages=count, truncated=bool(content["truncated"]), outbox=True)
