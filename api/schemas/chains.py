"""Chain models: create, public view of a chain and of its runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.runs import TemporalRef
from domain.chains import (
    MAX_CHAIN_JOBS,
    ChainEdge,
    ChainRunStatus,
    ChainTrigger,
    NodeStatus,
)
from domain.inputs import Text


class ChainCreate(BaseModel):
    """Body of ``POST /chains``."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=1, max_length=200)
    jobs: list[Annotated[Text, Field(min_length=1, max_length=40)]] = Field(
        min_length=1, max_length=MAX_CHAIN_JOBS, description="The chain's nodes: job ids."
    )
    edges: list[ChainEdge] = Field(
        default=[],
        max_length=MAX_CHAIN_JOBS * 10,
        description="`{from, to, type}` with type `on_success`, `on_failure` or `on_complete`.",
    )


class ChainNodePublic(BaseModel):
    """Where one node of a chain run is; ``run_id`` is set once it runs."""

    job_id: str
    status: NodeStatus | None
    run_id: str | None


class ChainRunPublic(BaseModel):
    """A chain run as the API shows it."""

    id: str
    chain_id: str
    trigger: ChainTrigger
    root_run_id: str | None
    status: ChainRunStatus
    started_at: datetime | None
    completed_at: datetime | None
    duration_seconds: float | None
    nodes: list[ChainNodePublic]
    error: str | None
    temporal: TemporalRef
    temporal_ui_url: str


class ChainRunsPublic(BaseModel):
    """A page of chain runs and the total that match the filter."""

    runs: list[ChainRunPublic]
    count: int


class ChainPublic(BaseModel):
    """A chain, the status of each node in its latest run, and its last runs."""

    model_config = ConfigDict(serialize_by_alias=True)

    id: str
    name: str
    jobs: list[str]
    edges: list[ChainEdge]
    roots: list[str]
    nodes: list[ChainNodePublic] = Field(
        description="Each node as of the latest run (status null before the first run)."
    )
    last_runs: list[ChainRunPublic] = Field(description="The latest runs, newest first.")
    created_at: datetime
    updated_at: datetime


class ChainsPublic(BaseModel):
    """A page of chains and how many there are."""

    chains: list[ChainPublic]
    count: int


class ChainTriggerAccepted(BaseModel):
    """Answer of a chain trigger: the chain run started."""

    run_id: str
    chain_id: str


class ChainRunCancelAccepted(BaseModel):
    """Answer of a chain run cancellation: its running nodes are cancelled."""

    run_id: str
    chain_id: str
    status: str = "cancelling"
