"""``http`` agents (docs/api.md, "Agents"): the run POSTed as JSON to the agent's URL.

``post`` is the one POST of every HTTP agent (``openai`` agents use it too): the body read up to
``MAX_ANSWER_BYTES``, transport failures and statuses sorted into retryable or not.
"""

from __future__ import annotations

from typing import Any

import httpx

from activities.agents.answers import AgentFailure, parse_answer, snippet
from domain.agents import HttpAgent
from domain.contract.agents import AgentCallInput, AgentCallResult
from domain.limits import MAX_ANSWER_BYTES

IDEMPOTENCY_HEADER = "Idempotency-Key"


class Http:
    """POSTs the run as JSON to the agent's URL."""

    def __init__(self, config: HttpAgent, client: httpx.AsyncClient) -> None:
        self._config = config
        self._client = client

    async def call(self, call: AgentCallInput) -> AgentCallResult:
        """One POST; the answer is ``{"output", "data"}`` JSON or plain text."""
        where = f"agent '{call.agent_id}'"
        text = await post(
            self._client,
            self._config.url,
            body=call.request(),
            headers={**self._config.headers, IDEMPOTENCY_HEADER: call.idempotency_key},
            timeout=min(self._config.timeout, call.timeout_seconds),
            where=where,
        )
        return parse_answer(text, where=where)


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    body: dict[str, Any],
    headers: dict[str, str],
    timeout: float,
    where: str,
) -> str:
    """POST JSON and answer the response's body (read up to ``MAX_ANSWER_BYTES``); transport
    errors, timeouts, 5xx and 429 are retryable, other 4xx and a longer body are not."""
    try:
        async with client.stream(
            "POST", url, json=body, headers=headers, timeout=timeout
        ) as response:
            text = await _read_text(response, where=where)
    except httpx.TimeoutException as exc:
        raise AgentFailure(
            f"{where} did not answer in time", kind="timeout", retryable=True
        ) from exc
    except httpx.HTTPError as exc:
        raise AgentFailure(
            f"{where} could not be reached: {exc.__class__.__name__}: {exc}",
            kind="connection",
            retryable=True,
        ) from exc
    if response.status_code >= 400:
        raise AgentFailure(
            f"{where} answered HTTP {response.status_code}: {snippet(text)}",
            kind="http_status",
            retryable=response.status_code >= 500 or response.status_code == 429,
        )
    return text


async def _read_text(response: httpx.Response, *, where: str) -> str:
    """The body of ``response`` as text, refused once it passes ``MAX_ANSWER_BYTES``."""
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > MAX_ANSWER_BYTES:
            raise AgentFailure(
                f"{where} answered more than {MAX_ANSWER_BYTES:,} bytes",
                kind="bad_answer",
                retryable=False,
            )
        chunks.append(chunk)
    return b"".join(chunks).decode(response.encoding or "utf-8", errors="replace")
