"""The LLM fallback of parse-nl: an OpenAI-compatible chat completion, validated like any input.

The model is asked for the schedule's JSON form; whatever it answers goes through the same
schedule models and evaluator as user input, so a bad answer is a 422, never a bad schedule.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import httpx

from api.core.errors import Invalid, Unavailable
from api.core.settings import Settings
from api.schemas.time import ParsedSchedule
from api.services.schedule_input import check_schedule
from domain.nl import describe

# Below this rule confidence, parse-nl asks the LLM (when one is configured).
LLM_THRESHOLD = 0.6
# The model's own confidence is believed up to this: a rule match that is sure scores higher.
LLM_MAX_CONFIDENCE = 0.9
LLM_TIMEOUT_SECONDS = 20.0

PROMPT = """You turn a schedule described in words into JSON.
Answer with one JSON object only, one of:
{{"type": "cron", "expression": "<min hour day-of-month month day-of-week>", "timezone": "<IANA>"}}
{{"type": "every", "interval": <seconds>, "timezone": "<IANA>"}}
{{"type": "at", "datetime": "<ISO 8601 with offset>", "timezone": "<IANA>"}}
Add "confidence": <0..1>. Any of them may add "start_at" / "end_at" (ISO 8601 with offset,
both included) for "starting …", "until …", "for the next N days". If the text is not a
schedule, is impossible, or has a condition or exception a schedule cannot hold ("unless it
rains"), answer {{"error": "<why>"}}.
Cron uses numbers, names (MON, JAN), lists, ranges and steps, and L (last day of the
month), L-1 (the day before it), LW (last weekday), 15W (weekday nearest the 15th) in the day of
month, 5L (last Friday) and 2#2 (second Tuesday) in the day of week; never ?. If the text names
no zone, use {timezone}. Now is {now}."""

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


async def schedule_from_llm(
    text: str, timezone: str, settings: Settings, *, now: datetime
) -> ParsedSchedule:
    """Ask the configured LLM for a schedule and validate its answer.

    Raises:
        Invalid: The model said the text is no schedule, or answered an invalid one.
        Unavailable: The LLM endpoint could not be reached or failed.
    """
    content = await _complete(text, timezone, settings, now=now)
    try:
        answer: Any = json.loads(_FENCE.sub("", content.strip()))
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise Invalid.field("text", f"the LLM did not answer a schedule as JSON: {content[:200]!r}")
    if "error" in answer:
        raise Invalid.field("text", f"not a schedule (LLM): {str(answer['error'])[:300]}")
    confidence = answer.pop("confidence", 0.7)
    answer.setdefault("timezone", timezone)
    try:
        schedule = check_schedule(answer, now=now)
    except ValueError as error:
        raise Invalid.field("text", f"the LLM answered an invalid schedule: {error}") from None
    if not isinstance(confidence, int | float) or isinstance(confidence, bool):
        confidence = 0.7
    return ParsedSchedule(
        schedule=schedule,
        human_readable=describe(schedule),
        confidence=round(min(max(float(confidence), 0.0), LLM_MAX_CONFIDENCE), 2),
        parse_method="llm",
    )


async def _complete(text: str, timezone: str, settings: Settings, *, now: datetime) -> str:
    assert settings.llm_base_url and settings.llm_model
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    body = {
        "model": settings.llm_model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": PROMPT.format(timezone=timezone, now=now.isoformat())},
            {"role": "user", "content": text},
        ],
    }
    url = settings.llm_base_url.rstrip("/") + "/chat/completions"
    try:
        async with httpx.AsyncClient(timeout=LLM_TIMEOUT_SECONDS) as client:
            response = await client.post(url, json=body, headers=headers)
        response.raise_for_status()
        return str(response.json()["choices"][0]["message"]["content"] or "")
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
        raise Unavailable(f"the LLM endpoint failed: {error.__class__.__name__}: {error}") from None
