"""``openai`` agents (docs/api.md, "Agents"): an OpenAI-compatible chat completion.

The goal is the user message; ``data`` is the answer parsed when it is a JSON object, and the
completion's ``usage`` is the run's usage.
"""

from __future__ import annotations

import os

import httpx

from activities.agents.answers import AgentFailure, completion_usage, json_object, loads, snippet
from activities.agents.http import IDEMPOTENCY_HEADER, post
from api.core.settings import Settings
from domain.agents import OpenAIAgent
from domain.contract.agents import AgentCallInput, AgentCallResult


class OpenAI:
    """An OpenAI-compatible chat completion; ``data`` is the answer parsed when it is JSON."""

    def __init__(self, config: OpenAIAgent, settings: Settings, client: httpx.AsyncClient) -> None:
        self._config = config
        self._settings = settings
        self._client = client

    async def call(self, call: AgentCallInput) -> AgentCallResult:
        """One ``POST {base_url}/chat/completions`` with the goal as the user message."""
        where = f"agent '{call.agent_id}'"
        base_url = self._config.base_url or self._settings.llm_base_url
        model = self._config.model or self._settings.llm_model
        if not base_url or not model:
            raise AgentFailure(
                f"{where} has no base_url or model (set them in the agents file or "
                "AGENT_SCHEDULER_LLM_BASE_URL / AGENT_SCHEDULER_LLM_MODEL)",
                kind="config",
                retryable=False,
            )
        api_key = (
            os.environ.get(self._config.api_key_env)
            if self._config.api_key_env
            else self._settings.llm_api_key
        )
        messages = [{"role": "user", "content": call.goal}]
        if self._config.system:
            messages.insert(0, {"role": "system", "content": self._config.system})
        # The body stays a plain chat completion (strict servers refuse unknown fields); the key
        # goes in a header, which OpenAI-compatible servers ignore unless they support it.
        headers = {IDEMPOTENCY_HEADER: call.idempotency_key}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        answer = await post(
            self._client,
            base_url.rstrip("/") + "/chat/completions",
            body={"model": model, "messages": messages},
            headers=headers,
            timeout=call.timeout_seconds,
            where=where,
        )
        try:
            body = loads(answer, where=where)
            text = body["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise AgentFailure(
                f"{where} answered something that is not a chat completion: {snippet(answer)}",
                kind="bad_answer",
                retryable=False,
            ) from exc
        text = str(text or "")
        return AgentCallResult(
            output=text, data=json_object(text), usage=completion_usage(body, self._config)
        )
