"""What an agent answered: its body read as a run's answer, its usage, and what a run keeps.

``AgentFailure`` is how every transport says the agent failed; the ``call_agent`` activity
turns it into an ``ApplicationError`` of type ``AgentCallFailed``.
"""

from __future__ import annotations

import json
from typing import Any

from domain.agents import OpenAIAgent
from domain.budgets import Usage
from domain.contract.agents import AgentCallResult
from domain.limits import (
    MAX_DATA_BYTES,
    MAX_DATA_DEPTH,
    MAX_OUTPUT_CHARS,
    cut_output,
    depth,
    storable,
    storable_text,
)

_SNIPPET = 300


class AgentFailure(Exception):
    """The agent failed; ``retryable`` says whether the job's retry policy applies."""

    def __init__(self, message: str, *, kind: str, retryable: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.retryable = retryable


def snippet(text: str) -> str:
    """The start of ``text``, for an error message."""
    text = text.strip()
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "…"


def loads(text: str, *, where: str) -> Any:
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
        answer = loads(text, where=where)
    except ValueError:
        return AgentCallResult(output=text.strip())
    if not isinstance(answer, dict) or not isinstance(answer.get("output", ""), str):
        raise AgentFailure(
            f'{where} answered JSON that is not {{"output": str, "data": {{...}}}}: '
            f"{snippet(text)}",
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
        f'int, "cost_usd": number}} (non-negative): {snippet(json.dumps(usage))}',
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
