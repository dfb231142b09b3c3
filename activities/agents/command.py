"""``command`` agents (docs/api.md, "Agents"): an argv run with the run as JSON on stdin."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal

from activities.agents.answers import AgentFailure, parse_answer, snippet
from api.core.tracing import traceparent_environment
from domain.agents import CommandAgent
from domain.contract.agents import AgentCallInput, AgentCallResult


class Command:
    """Runs an argv with the run as JSON on stdin.

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
                env={**os.environ, **traceparent_environment(), **self._config.env},
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
                f"{snippet(stderr.decode(errors='replace')) or '(no stderr)'}",
                kind="exit_code",
                retryable=True,
            )
        return parse_answer(stdout.decode(errors="replace"), where=where)
