"""The chain run's payloads: the workflow's input and result, and its index activities'."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from domain.chains import ChainGraph, ChainRunStatus, ChainTrigger, NodeStatus
from domain.contract.runs import RunStatus


class ChainNode(BaseModel):
    """Where one node of a chain run is."""

    job_id: str
    status: NodeStatus = "pending"
    run_id: str | None = None


class AdoptedRun(BaseModel):
    """A finished standalone run of a root job, taken as that root's result."""

    job_id: str
    run_id: str
    status: RunStatus
    output: str | None = None
    data: dict[str, Any] | None = None
    error: str | None = None


class ChainRunInput(BaseModel):
    """Start of a chain run: the graph as it was when the run was asked for."""

    chain_id: str
    owner: str
    name: str
    graph: ChainGraph
    trigger: ChainTrigger = "manual"
    root: AdoptedRun | None = None


class ChainRunResult(BaseModel):
    """How a chain run ended, node by node."""

    status: ChainRunStatus
    nodes: list[ChainNode]
    error: str | None = None


class ChainRunStart(BaseModel):
    """Record that a chain run started (idempotent)."""

    chain_run_id: str
    temporal_run_id: str
    chain_id: str
    owner: str
    trigger: ChainTrigger
    root_run_id: str | None = None
    started_at: datetime
    nodes: list[ChainNode]


class ChainRunStarted(BaseModel):
    """Whether the chain still exists (a deleted chain's run stops)."""

    exists: bool


class ChainRunProgress(BaseModel):
    """The nodes of a running chain run, as they are now."""

    chain_run_id: str
    nodes: list[ChainNode]


class ChainRunFinish(BaseModel):
    """Record how a chain run ended."""

    chain_run_id: str
    status: ChainRunStatus
    completed_at: datetime
    nodes: list[ChainNode]
    error: str | None = None


def chain_run_input(chain: Any, **kwargs: Any) -> ChainRunInput:
    """The chain workflow's input for a chain row (a mapping or model with its columns)."""
    return ChainRunInput(
        chain_id=chain.id,
        owner=chain.owner,
        name=chain.name,
        graph=ChainGraph.model_validate({"jobs": chain.jobs, "edges": chain.edges}),
        **kwargs,
    )
