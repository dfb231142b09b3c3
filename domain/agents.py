"""Agent configuration: the agents file (TOML) parsed into typed entries.

The file has one table per agent, named by its id::

    [agents.researcher]
    kind = "http"
    url = "https://agents.internal/researcher"
"""

from __future__ import annotations

import tomllib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class _Agent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = ""


class EchoAgent(_Agent):
    """Built in: answers with the goal."""

    kind: Literal["echo"] = "echo"


class HttpAgent(_Agent):
    """POSTs the run as JSON to ``url``."""

    kind: Literal["http"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: float = Field(300, gt=0)


class OpenAIAgent(_Agent):
    """An OpenAI-compatible chat completion with the goal as the user message."""

    kind: Literal["openai"]
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    system: str | None = None
    # Prices that turn a completion's reported tokens into the run's cost (budgets).
    input_usd_per_million_tokens: float | None = Field(None, ge=0)
    output_usd_per_million_tokens: float | None = Field(None, ge=0)


class CommandAgent(_Agent):
    """Runs ``command`` with the run as JSON on stdin."""

    kind: Literal["command"]
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None


AgentConfig = Annotated[
    EchoAgent | HttpAgent | OpenAIAgent | CommandAgent, Field(discriminator="kind")
]
_adapter: TypeAdapter[EchoAgent | HttpAgent | OpenAIAgent | CommandAgent] = TypeAdapter(AgentConfig)


class AgentsFileError(ValueError):
    """The agents file cannot be used; the message says where."""


def parse_agents(text: str | None) -> dict[str, EchoAgent | HttpAgent | OpenAIAgent | CommandAgent]:
    """Agents by id from the agents file's text (None: no file); ``echo`` is always present."""
    agents: dict[str, EchoAgent | HttpAgent | OpenAIAgent | CommandAgent] = {
        "echo": EchoAgent(id="echo")
    }
    if not text:
        return agents
    try:
        tables = tomllib.loads(text).get("agents", {})
    except tomllib.TOMLDecodeError as exc:
        raise AgentsFileError(f"agents file is not valid TOML: {exc}") from exc
    for agent_id, table in tables.items():
        try:
            agents[agent_id] = _adapter.validate_python({**table, "id": agent_id})
        except ValidationError as exc:
            raise AgentsFileError(f"agent '{agent_id}': {exc}") from exc
    return agents
