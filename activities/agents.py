"""The agent call (SPEC §7): one activity, one small interface per agent kind.

Every failure the agent itself reports becomes an ``ApplicationError`` of type
``AgentCallFailed`` that Temporal does not retry; its details say whether the job's own retry
policy should (``retryable``) and what went wrong (``kind``). Infrastructure failures (a worker
lost mid-call, a missed heartbeat) stay ordinary and are retried by Temporal.

So one attempt of a run can reach the agent more than once (a *dispatch* is one execution of
the activity: Temporal's activity attempt). Every dispatch of an attempt carries the same
``idempotency_key`` (``<run id>/attempt/<n>``; also the ``Idempotency-Key`` header of http and
openai agents) and its ``dispatch`` number, and reports that number back, so the run records how
many times each attempt was dispatched.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from typing import Any, Protocol

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from api.core.settings import Settings
from domain.agents import CommandAgent, EchoAgent, HttpAgent, OpenAIAgent
from domain.budgets import Usage
from domain.contract.agents import AgentCallInput, AgentCallResult
from domain.contract.names import AGENT_CALL_FAILED, CALL_AGENT
from domain.limits import (
    MAX_ANSWER_BYTES,
    MAX_DATA_BYTES,
    MAX_DATA_DEPTH,
    MAX_OUTPUT_CHARS,
    cut_output,
    depth,
    storable,
    storable_text,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
log = logging.getLogger(__name__)
# Often enough that cancellation and a dead worker are noticed within seconds.
HEARTBEAT_EVERY = 1.0
_SNIPPET = 300


class AgentFailure(Exception):
    """The agent failed; ``retryable`` says whether the job's retry policy applies."""

    def __init__(self, message: str, *, kind: str, retryable: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable


class Agent(Protocol):
    """One kind of agent."""

    async def call(self, call: AgentCallInput) -> AgentCallResult:
        """Answer one attempt, or raise ``AgentFailure``."""
        ...


def _snippet(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "…"


def _loads(text: str, *, where: str) -> Any:
    """``text`` parsed as JSON; ValueError when it is no JSON, AgentFailure when it nests too
    deeply for the parser."""
    try:
        return json.loads(text)
    except RecursionError:
        raise AgentFailure(
            f"{where} answered JSON nested too deeply to read (a run keeps data at most "
            f"{MAX_DATA_DEPTH} levels deep)",
            kind="bad_answer",
            retryable=False,
        ) from None


def parse_answer(text: str, *, where: str) -> AgentCallResult:
    """An answer body: ``{"output": str, "data": {...}}`` JSON, or plain text as the output."""
    try:
        answer = _loads(text, where=where)
    except ValueError:
        return AgentCallResult(output=text.strip())
    if not isinstance(answer, dict) or not isinstance(answer.get("output", ""), str):
        raise AgentFailure(
            f'{where} answered JSON that is not {{"output": str, "data": {{...}}}}: '
            f"{_snippet(text)}",
            kind="bad_answer",
            retryable=False,
        )
    data = answer.get("data") or {}
    if not isinstance(data, dict):
        raise AgentFailure(
            f"{where} answered 'data' that is not a JSON object", kind="bad_answer", retryable=False
        )
    usage = reported_usage(answer.get("usage"), where=where)
    return AgentCallResult(output=answer.get("output") or "", data=data, usage=usage)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def reported_usage(usage: Any, *, where: str) -> Usage | None:
    """An answer's ``usage``: ``{"input_tokens": int, "output_tokens": int, "cost_usd": number}``,
    every key optional; anything else is a bad answer (budgets must not count garbage)."""
    if usage is None:
        return None
    bad = AgentFailure(
        f'{where} answered \'usage\' that is not {{"input_tokens": int, "output_tokens": '
        f'int, "cost_usd": number}} (non-negative): {_snippet(json.dumps(usage))}',
        kind="bad_answer",
        retryable=False,
    )
    if not isinstance(usage, dict) or set(usage) - {"input_tokens", "output_tokens", "cost_usd"}:
        raise bad
    tokens = {k: usage.get(k) for k in ("input_tokens", "output_tokens")}
    if any(v is not None and not _count(v) for v in tokens.values()):
        raise bad
    cost = usage.get("cost_usd")
    if cost is not None and (
        isinstance(cost, bool) or not isinstance(cost, int | float) or not 0 <= cost < 1e12
    ):
        raise bad
    return Usage(
        input_tokens=tokens["input_tokens"],
        output_tokens=tokens["output_tokens"],
        cost_usd=None if cost is None else float(cost),
    )


def completion_usage(body: Any, config: OpenAIAgent) -> Usage | None:
    """The usage of a chat completion (``usage.prompt_tokens`` / ``completion_tokens``), priced
    with the agent's per-million-token prices when set, else with the server's ``usage.cost``
    (OpenRouter's); a completion without ``usage`` has None."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    found = Usage(
        input_tokens=prompt if _count(prompt) else None,
        output_tokens=completion if _count(completion) else None,
    )
    if config.input_usd_per_million_tokens is not None or (
        config.output_usd_per_million_tokens is not None
    ):
        found.cost_usd = (
            (found.input_tokens or 0) * (config.input_usd_per_million_tokens or 0)
            + (found.output_tokens or 0) * (config.output_usd_per_million_tokens or 0)
        ) / 1_000_000
    elif isinstance(usage.get("cost"), int | float) and not isinstance(usage.get("cost"), bool):
        found.cost_usd = max(float(usage["cost"]), 0.0)
    if found.total_tokens is None and found.cost_usd is None:
        return None
    return found


def json_object(text: str) -> dict[str, Any]:
    """``text`` parsed as JSON when it is a JSON object, else an empty dict."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def kept(result: AgentCallResult) -> AgentCallResult:
    """What a run keeps of an answer (docs/api.md, "Run object"): every character the index
    cannot store (NUL, a lone surrogate) replaced by U+FFFD, the output cut at
    ``MAX_OUTPUT_CHARS``, the data dropped when deeper than ``MAX_DATA_DEPTH`` or larger than
    ``MAX_DATA_BYTES``; what was cut is listed in ``cut``, every change said in ``notes``."""
    cut: list[str] = []
    notes: list[str] = []
    output, replaced = storable_text(result.output)
    if replaced:
        notes.append(f"output: {replaced:,} NUL or lone surrogate characters replaced by U+FFFD")
    if len(output) > MAX_OUTPUT_CHARS:
        cut.append("output")
        notes.append(f"output: cut at {MAX_OUTPUT_CHARS:,} of {len(output):,} characters")
        output = cut_output(output)
    data: dict[str, Any] = result.data
    nesting = depth(data)
    if nesting > MAX_DATA_DEPTH:
        cut.append("data")
        notes.append(f"data: dropped, nested {nesting:,} levels deep (at most {MAX_DATA_DEPTH})")
        data = {}
    data, replaced = storable(data)
    if replaced:
        notes.append(
            f"data: {replaced:,} NUL or lone surrogate characters replaced by U+FFFD, or NaN "
            "and infinite numbers by null"
        )
    size = len(json.dumps(data, ensure_ascii=False).encode())
    if size > MAX_DATA_BYTES:
        cut.append("data")
        notes.append(f"data: dropped, {size:,} bytes as JSON (at most {MAX_DATA_BYTES:,})")
        data = {}
    return result.model_copy(update={"output": output, "data": data, "cut": cut, "notes": notes})


class Echo:
    """Answers with the goal (SPEC §7 ``echo``)."""

    async def call(self, call: AgentCallInput) -> AgentCallResult:
        """The goal as output, and as data when it is a JSON object."""
        return AgentCallResult(output=call.goal, data=json_object(call.goal))


async def _post(
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
            f"{where} answered HTTP {response.status_code}: {_snippet(text)}",
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


class Http:
    """POSTs the run as JSON to the agent's URL (SPEC §7 ``http``)."""

    def __init__(self, config: HttpAgent, client: httpx.AsyncClient) -> None:
        self._config = config
        self._client = client

    async def call(self, call: AgentCallInput) -> AgentCallResult:
        """One POST; the answer is ``{"output", "data"}`` JSON or plain text."""
        where = f"agent '{call.agent_id}'"
        text = await _post(
            self._client,
            self._config.url,
            body=call.request(),
            headers={**self._config.headers, IDEMPOTENCY_HEADER: call.idempotency_key},
            timeout=min(self._config.timeout, call.timeout_seconds),
            where=where,
        )
        return parse_answer(text, where=where)


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
        answer = await _post(
            self._client,
            base_url.rstrip("/") + "/chat/completions",
            body={"model": model, "messages": messages},
            headers=headers,
            timeout=call.timeout_seconds,
            where=where,
        )
        try:
            body = _loads(answer, where=where)
            text = body["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise AgentFailure(
                f"{where} answered something that is not a chat completion: {_snippet(answer)}",
                kind="bad_answer",
                retryable=False,
            ) from exc
        text = str(text or "")
        return AgentCallResult(
            output=text, data=json_object(text), usage=completion_usage(body, self._config)
        )


class Command:
    """Runs an argv with the run as JSON on stdin (SPEC §7 ``command``).

    The process gets its own process group, which is killed when the call is cancelled or
    times out, so nothing it started outlives the run.
    """

    def __init__(self, config: CommandAgent) -> None:
        self._config = config

    async def call(self, call: AgentCallInput) -> AgentCallResult:
        """Run the command once; stdout is the answer, a non-zero exit a (retryable) failure."""
        where = f"agent '{call.agent_id}'"
        try:
            process = await asyncio.create_subprocess_exec(
                *self._config.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=self._config.cwd,
                env={**os.environ, **self._config.env},
                start_new_session=True,
            )
        except OSError as exc:
            raise AgentFailure(
                f"{where} could not start: {exc}", kind="config", retryable=False
            ) from exc
        try:
            stdout, stderr = await process.communicate(json.dumps(call.request()).encode())
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        if process.returncode != 0:
            raise AgentFailure(
                f"{where} exited with code {process.returncode}: "
                f"{_snippet(stderr.decode(errors='replace')) or '(no stderr)'}",
                kind="exit_code",
                retryable=True,
            )
        return parse_answer(stdout.decode(errors="replace"), where=where)


class AgentActivities:
    """The ``call_agent`` activity over the configured agents."""

    def __init__(
        self,
        agents: dict[str, EchoAgent | HttpAgent | OpenAIAgent | CommandAgent],
        settings: Settings,
    ) -> None:
        self._client = httpx.AsyncClient()
        self._agents: dict[str, Agent] = {
            agent_id: self._agent(config, settings) for agent_id, config in agents.items()
        }

    def _agent(
        self, config: EchoAgent | HttpAgent | OpenAIAgent | CommandAgent, settings: Settings
    ) -> Agent:
        if isinstance(config, HttpAgent):
            return Http(config, self._client)
        if isinstance(config, OpenAIAgent):
            return OpenAI(config, settings, self._client)
        if isinstance(config, CommandAgent):
            return Command(config)
        return Echo()

    @activity.defn(name=CALL_AGENT)
    async def call_agent(self, call: AgentCallInput) -> AgentCallResult:
        """Call the run's agent once, heartbeating, within the job's ``timeout_seconds``.

        A failure the agent reported is logged as one line (no traceback: it is no bug).
        """
        call = call.model_copy(update={"dispatch": activity.info().attempt})
        agent = self._agents.get(call.agent_id)
        try:
            if agent is None:
                raise AgentFailure(
                    f"agent '{call.agent_id}' is not configured on this worker",
                    kind="config",
                    retryable=False,
                )
            heartbeat = asyncio.create_task(_heartbeat())
            try:
                async with asyncio.timeout(call.timeout_seconds):
                    answer = kept(await agent.call(call))
                    return answer.model_copy(update={"dispatch": call.dispatch})
            except TimeoutError as exc:
                raise AgentFailure(
                    f"agent '{call.agent_id}' did not finish within {call.timeout_seconds}s",
                    kind="timeout",
                    retryable=True,
                ) from exc
            finally:
                heartbeat.cancel()
        except AgentFailure as failure:
            log.warning(
                "agent call of run %s failed on attempt %d (dispatch %d): %s",
                call.run_id,
                call.attempt,
                call.dispatch,
                failure,
            )
            raise ApplicationError(
                str(failure),
                {"retryable": failure.retryable, "kind": failure.kind, "dispatch": call.dispatch},
                type=AGENT_CALL_FAILED,
                non_retryable=True,
                category=ApplicationErrorCategory.BENIGN,
            ) from failure

    async def aclose(self) -> None:
        """Close the shared HTTP connection pool."""
        await self._client.aclose()


async def _heartbeat() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_EVERY)
