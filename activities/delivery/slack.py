"""``slack:#channel``: Slack Web API ``chat.postMessage`` with the bot token.

A long run is split: the first message goes to the channel, the rest to its thread. Each message
Slack accepted is reported (``accepted``) before the next is posted: the delivery activity records
it in the index and the heartbeat, so a retry after message 3 of 5 failed posts 3 to 5 only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from activities.delivery.errors import failed, refused
from activities.delivery.progress import Progress
from api.core.settings import Settings
from domain.contract.delivery import DeliverInput, DeliverResult
from domain.delivery import Channel
from domain.render import slack_messages

# chat.postMessage errors that a later attempt may not see again.
_TRANSIENT = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "request_timeout",
    "service_unavailable",
}


async def send(
    http: httpx.AsyncClient,
    settings: Settings,
    channel: Channel,
    job: DeliverInput,
    progress: Progress,
    accepted: Callable[[], Awaitable[None]],
) -> DeliverResult:
    """Post the run's messages that ``progress`` does not show posted yet."""
    messages = slack_messages(job.run, job.format)
    posted, thread_ts = progress.posted, progress.thread_ts
    for index in range(posted, len(messages.texts)):
        body: dict[str, Any] = {
            "channel": channel.target,
            "text": messages.texts[index],
            "mrkdwn": messages.mrkdwn,
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if index > 0 and thread_ts:
            body["thread_ts"] = thread_ts
        answer = await post_message(http, settings, body)
        if index == 0:
            thread_ts = answer.get("ts")
        progress.posted, progress.thread_ts = index + 1, thread_ts
        await accepted()
    return DeliverResult(messages=len(messages.texts), truncated=messages.truncated)


async def post_message(
    http: httpx.AsyncClient, settings: Settings, body: dict[str, Any]
) -> dict[str, Any]:
    """One ``chat.postMessage``; Slack's answer, or ``failed`` (worth a retry) / ``refused``."""
    if not settings.slack_token:
        raise refused("Slack delivery is not configured (AGENT_SCHEDULER_SLACK_TOKEN)")
    url = settings.slack_api_url.rstrip("/") + "/chat.postMessage"
    headers = {"Authorization": f"Bearer {settings.slack_token}"}
    try:
        response = await http.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise failed(f"Slack unreachable: {type(exc).__name__}: {exc}") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise failed(f"Slack answered HTTP {response.status_code}")
    if response.status_code != 200:
        raise refused(f"Slack answered HTTP {response.status_code}")
    try:
        answer: dict[str, Any] = response.json()
    except ValueError:
        raise failed("Slack answered with a body that is not JSON") from None
    if not answer.get("ok"):
        error = str(answer.get("error", "unknown_error"))
        if error in _TRANSIENT:
            raise failed(f"Slack refused the message: {error}")
        raise refused(f"Slack refused the message: {error}")
    return answer
