"""The agent call (docs/api.md, "Agents"): one activity over one small module per agent kind.

``echo``, ``http``, ``openai`` and ``command`` each answer one call or raise ``AgentFailure``;
``answers`` reads their bodies and decides what a run keeps.

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
import logging
import time
from typing import Protocol

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.agents.answers import AgentFailure, kept
from activities.agents.command import Command
from activities.agents.echo import Echo
from activities.agents.http import Http
from activities.agents.openai import OpenAI
from activities.heartbeat import heartbeating
from api.core import metrics, tracing
from api.core.settings import Settings
from domain.agents import CommandAgent, EchoAgent, HttpAgent, OpenAIAgent
from domain.contract.agents import AgentCallInput, AgentCallResult
from domain.contract.names import AGENT_CALL_FAILED, CALL_AGENT

log = logging.getLogger(__name__)


class Agent(Protocol):
    """One kind of agent."""

    async def call(self, call: AgentCallInput) -> AgentCallResult:
        """Answer one attempt, or raise ``AgentFailure``."""
        ...


class AgentActivities:
    """The ``call_agent`` activity over the configured agents."""

    def __init__(
        self,
        agents: dict[str, EchoAgent | HttpAgent | OpenAIAgent | CommandAgent],
        settings: Settings,
    ) -> None:
        self._client = httpx.AsyncClient()
        tracing.instrument_client(self._client)
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
        began = time.monotonic()
        outcome = "error"
        try:
            if agent is None:
                raise AgentFailure(
                    f"agent '{call.agent_id}' is not configured on this worker",
                    kind="config",
                    retryable=False,
                )
            try:
                async with heartbeating(), asyncio.timeout(call.timeout_seconds):
                    answer = kept(await agent.call(call))
                    outcome = "ok"
                    return answer.model_copy(update={"dispatch": call.dispatch})
            except TimeoutError as exc:
                raise AgentFailure(
                    f"agent '{call.agent_id}' did not finish within {call.timeout_seconds}s",
                    kind="timeout",
                    retryable=True,
                ) from exc
        except AgentFailure as failure:
            outcome = failure.kind
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
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            if agent is not None:
                metrics.AGENT_CALLS.labels(call.agent_id, outcome).inc()
                metrics.AGENT_CALL_SECONDS.labels(call.agent_id).observe(time.monotonic() - began)

    async def aclose(self) -> None:
        """Close the shared HTTP connection pool."""
        await self._client.aclose()
