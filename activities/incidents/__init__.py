"""Incident notifications: each one sent once, from the index (docs/alerts.md).

An incident's notifications are rows written in the transaction that opened, reminded or
resolved it (``api/core/index/incidents.py``); this module only sends what is queued. A sender
first claims a notification for a while (``claimed_until``), sends it through the channel's
provider (Slack blocks, an HTML e-mail, a signed webhook, Apprise, or the dev outbox), then marks
it ``sent`` with when, or records the error: ``failed`` for good when the channel refused it,
else it stays ``pending`` and the next tick sends it again. The run recorder sends what it
queued right after its commit; the tick sends whatever is left (a worker that died between
commit and send, a channel that was down). The notification's id is its idempotency key: the
webhook's ``X-Agent-Scheduler-Delivery`` header and the e-mail's ``Message-ID``, as for results.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

import httpx
from apprise import Apprise, NotifyFormat
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.exceptions import ApplicationError

from activities.delivery import email, outbox, slack
from activities.delivery.errors import failed, refused
from api.core.index import incidents as index_incidents
from api.core.index import outbox as index_outbox
from api.core.settings import Settings
from api.core.signing import owner_secret, signature
from api.core.targets import TargetRefused, check_target, check_url
from domain.alerts import IncidentNote
from domain.delivery import Channel, ChannelError, parse_channel

log = logging.getLogger(__name__)
# A sender holds a notification this long; past it another sender may send it.
CLAIM = timedelta(minutes=2)
# Attempts before a notification is given up (about this many ticks).
MAX_ATTEMPTS = 20


class IncidentNotifier:
    """Sends queued incident notifications; built once in the worker."""

    def __init__(
        self,
        engine: AsyncEngine,
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def kick(self) -> None:
        """Send what is queued, in the background (one sender at a time in this process)."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._drain(), name="send-incident-notifications")

    async def _drain(self) -> None:
        while True:
            self._again = False
            try:
                await self.send_pending()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("incident notifications not sent now (%s); the tick retries", exc)
            if not self._again:
                return

    async def send_pending(self) -> int:
        """Send every queued notification no other sender holds; answers how many were sent."""
        now = self._clock()
        async with self._engine.connect() as conn:
            ids = await index_incidents.pending_ids(conn, now=now)
        sent = 0
        if not ids:
            return sent
        async with httpx.AsyncClient(
            timeout=self._settings.delivery_timeout_seconds, follow_redirects=False
        ) as http:
            for notification_id in ids:
                sent += await self._send_one(http, notification_id)
        return sent

    async def _send_one(self, http: httpx.AsyncClient, notification_id: str) -> int:
        now = self._clock()
        async with self._engine.begin() as conn:
            if not await index_incidents.claim(
                conn, notification_id=notification_id, now=now, until=now + CLAIM
            ):
                return 0
            row = await index_incidents.notification_with_incident(
                conn, notification_id=notification_id
            )
        if row is None:
            return 0
        note = _note(row, self._settings)
        status, error, kept = "sent", None, False
        try:
            kept = await self._deliver(http, row.n_channel, row.owner, note)
        except ApplicationError as exc:
            given_up = exc.non_retryable or row.n_attempts >= MAX_ATTEMPTS
            status, error = ("failed" if given_up else "pending"), exc.message
            log.warning(
                "incident notification %s (%s) %s: %s",
                notification_id,
                row.n_channel.partition(":")[0],  # never the target: it may hold a token
                "given up" if given_up else "not sent, retried by the tick",
                exc.message,
            )
        async with self._engine.begin() as conn:
            await index_incidents.mark(
                conn,
                notification_id=notification_id,
                status=status,
                at=self._clock(),
                error=error,
                outbox=kept,
            )
        return int(status == "sent")

    async def _deliver(
        self, http: httpx.AsyncClient, channel_text: str, owner: str, note: IncidentNote
    ) -> bool:
        """Send ``note``; answers whether it went to the dev outbox instead."""
        try:
            channel = parse_channel(channel_text)
        except ChannelError as exc:
            raise refused(f"invalid channel: {exc}") from None
        if outbox.applies(self._settings, channel):
            await self._keep(channel, channel_text, owner, note)
            return True
        if channel.provider == "slack":
            await _slack(http, self._settings, channel, note)
        elif channel.provider == "webhook":
            await _webhook(http, self._settings, channel, owner, note)
        elif channel.provider == "email":
            await email.send_message(self._settings, channel, _email(self._settings, channel, note))
        else:
            await _apprise(self._settings, channel, note)
        return False

    async def _keep(
        self, channel: Channel, channel_text: str, owner: str, note: IncidentNote
    ) -> None:
        if channel.provider == "slack":
            content: dict[str, Any] = {
                "texts": [note.slack_body()["text"] + "\n" + "\n".join(note.lines())],
                "mrkdwn": True,
                "truncated": False,
            }
        else:
            content = {
                "to": channel.target,
                "from": self._settings.smtp_from,
                "subject": note.title(),
                "text": note.text(),
                "html": note.email_html(),
                "truncated": False,
            }
        values = {
            "delivery_id": note.notification_id,
            "owner": owner,
            "run_id": note.incident_id,
            "job_id": note.job_id,
            "job_name": note.job_name[:200],
            "channel": channel_text,
            "provider": channel.provider,
            "format": "text",
            "content": content,
            "created_at": self._clock(),
        }
        async with self._engine.begin() as conn:
            await index_outbox.keep_message(conn, values=values)


def _note(row: Any, settings: Settings) -> IncidentNote:
    return IncidentNote(
        notification_id=row.n_id,
        event=row.n_event,
        incident_id=row.id,
        job_id=row.job_id,
        job_name=row.job_name,
        kind=row.kind,
        status=row.status,
        reason=row.reason,
        opened_at=row.opened_at,
        resolved_at=row.resolved_at,
        resolved_reason=row.resolved_reason,
        reminder=int(row.n_id.rpartition("/")[2]) if row.n_event == "reminder" else 0,
        details=row.details or {},
        url=f"{settings.public_url.rstrip('/')}/ui/#/jobs/{row.job_id}"
        if settings.public_url
        else None,
    )


async def _slack(
    http: httpx.AsyncClient, settings: Settings, channel: Channel, note: IncidentNote
) -> None:
    body = {"channel": channel.target, "unfurl_links": False, **note.slack_body()}
    await slack.post_message(http, settings, body)


async def _webhook(
    http: httpx.AsyncClient, settings: Settings, channel: Channel, owner: str, note: IncidentNote
) -> None:
    try:
        await check_url(channel.target, allow_private=settings.allow_private_targets)
    except TargetRefused as exc:
        raise refused(f"webhook target refused: {exc}") from None
    body = json.dumps(note.webhook_document(), ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "agent-scheduler",
        "X-Agent-Scheduler-Timestamp": str(timestamp),
        "X-Agent-Scheduler-Signature": signature(owner_secret(settings, owner), timestamp, body),
        "X-Agent-Scheduler-Delivery": note.notification_id,
    }
    try:
        response = await http.post(channel.target, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise failed(f"webhook unreachable: {type(exc).__name__}: {exc}") from None
    status = response.status_code
    if 200 <= status < 300:
        return
    if status in (408, 425, 429) or status >= 500:
        raise failed(f"webhook answered HTTP {status}")
    raise refused(f"webhook answered HTTP {status}")


def _email(settings: Settings, channel: Channel, note: IncidentNote) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = note.title()
    message["From"] = settings.smtp_from
    message["To"] = channel.target
    message["Date"] = formatdate(localtime=False)
    digest = hashlib.sha256(note.notification_id.encode()).hexdigest()[:32]
    message["Message-ID"] = f"<{digest}@agent-scheduler>"
    message["X-Agent-Scheduler-Delivery"] = note.notification_id
    message.set_content(note.text(), subtype="plain", charset="utf-8")
    message.add_alternative(note.email_html(), subtype="html", charset="utf-8")
    return message


async def _apprise(settings: Settings, channel: Channel, note: IncidentNote) -> None:
    try:
        plugin = await check_target(
            channel, allow_private=settings.allow_private_targets, at_delivery=True
        )
    except TargetRefused as exc:
        raise refused(f"target refused: {exc}") from None
    notifier = Apprise()
    notifier.add(plugin)
    ok = await asyncio.to_thread(
        notifier.notify,
        body="\n".join(note.lines()),
        title=note.title(),
        body_format=NotifyFormat.TEXT,
    )
    if not ok:
        raise failed(f"{channel.scheme} did not accept the notification")
