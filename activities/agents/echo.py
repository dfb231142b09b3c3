"""The built-in ``echo`` agent (docs/api.md, "Agents"): it answers with the goal."""

from __future__ import annotations

from activities.agents.answers import json_object
from domain.contract.agents import AgentCallInput, AgentCallResult


class Echo:
    """Answers with the goal."""

    async def call(self, call: AgentCallInput) -> AgentCallResult:
        """The goal as output, and as data when it is a JSON object."""
        return AgentCallResult(output=call.goal, data=json_object(call.goal))
