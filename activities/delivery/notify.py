"""Every other provider, through Apprise: ``discord:ID/TOKEN`` is sent as ``discord://ID/TOKEN``.

Apprise splits what is too long for the service (``overflow=split``); we first cut the body to
ten of the service's messages. Services whose URL names a host (self-hosted ntfy, Gotify,
Mattermost, generic JSON…) get the same public-host check as webhooks.
"""

from __future__ import annotations

import asyncio

from apprise import Apprise, NotifyFormat

from activities.delivery.errors import failed, refused
from api.core.settings import Settings
from api.core.targets import TargetRefused, check_target
from domain.contract.delivery import DeliverInput, DeliverResult
from domain.delivery import Channel
from domain.render import cut, message_source, subject


async def send(settings: Settings, channel: Channel, job: DeliverInput) -> DeliverResult:
    """Notify through the Apprise plugin of the channel's scheme."""
    try:
        plugin = await check_target(
            channel, allow_private=settings.allow_private_targets, at_delivery=True
        )
    except TargetRefused as exc:
        raise refused(f"target refused: {exc}") from None
    limit = max(int(getattr(plugin, "body_maxlen", 0) or 0), 1000) * 10
    body, truncated = cut(message_source(job.run, job.format), limit)
    body_format = {"markdown": NotifyFormat.MARKDOWN, "text": NotifyFormat.TEXT}.get(
        job.format, NotifyFormat.TEXT
    )
    notifier = Apprise()
    notifier.add(plugin)
    ok = await asyncio.to_thread(
        notifier.notify, body=body, title=subject(job.run), body_format=body_format
    )
    if not ok:
        raise failed(f"{channel.scheme} did not accept the notification")
    return DeliverResult(messages=1, truncated=truncated)
