"""``webhook:https://…``: POST the run as JSON, signed with the owner's secret."""

from __future__ import annotations

import json
import time

import httpx

from activities.delivery.errors import failed, refused
from api.core.settings import Settings
from api.core.signing import owner_secret, signature
from api.core.targets import TargetRefused, check_url
from domain.contract.delivery import DeliverInput, DeliverResult
from domain.delivery import Channel
from domain.render import WEBHOOK_MAX_CHARS, cut, message_source, run_json


async def send(
    http: httpx.AsyncClient, settings: Settings, channel: Channel, job: DeliverInput
) -> DeliverResult:
    """POST the run to the URL (checked again now: a name may resolve elsewhere by now)."""
    try:
        await check_url(channel.target, allow_private=settings.allow_private_targets)
    except TargetRefused as exc:
        raise refused(f"webhook target refused: {exc}") from None
    payload = run_json(job.run)
    output, truncated = cut(payload.get("output") or "", WEBHOOK_MAX_CHARS)
    if payload.get("output") is not None:
        payload["output"] = output
    text, _ = cut(message_source(job.run, job.format), WEBHOOK_MAX_CHARS)
    document = {
        "event": "run.delivered",
        "delivery_id": job.delivery_id,
        "format": job.format,
        "text": text,
        "truncated": truncated,
        "run": payload,
    }
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "agent-scheduler",
        "X-Agent-Scheduler-Timestamp": str(timestamp),
        "X-Agent-Scheduler-Signature": signature(
            owner_secret(settings, job.run.owner), timestamp, body
        ),
        "X-Agent-Scheduler-Delivery": job.delivery_id,
    }
    try:
        response = await http.post(channel.target, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise failed(f"webhook unreachable: {type(exc).__name__}: {exc}") from None
    status = response.status_code
    if 200 <= status < 300:
        return DeliverResult(messages=1, truncated=truncated)
    if status in (408, 425, 429) or status >= 500:
        raise failed(f"webhook answered HTTP {status}")
    if 300 <= status < 400:
        raise refused(f"webhook answered HTTP {status} (redirects are not followed)")
    raise refused(f"webhook answered HTTP {status}")
