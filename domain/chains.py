"""Chain DAG rules (docs/api.md, "Chains"): graph validation, node resolution, chain outcome.

Pure: no I/O, so the chain workflow, the API and the tests share one reading of the rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.inputs import Text

CHAIN_RUN_PREFIX = "chainrun_"
MAX_CHAIN_JOBS = 100

EdgeType = Literal["on_success", "on_failure", "on_complete"]
ChainTrigger = Literal["manual", "root_run"]
ChainRunStatus = Literal["running", "completed", "failed", "cancelled"]
NodeStatus = Literal[
    "pending", "running", "completed", "failed", "cancelled", "timed_out", "skipped"
]

# Outcomes that satisfy an ``on_failure`` edge.
FAILED_OUTCOMES = frozenset({"failed", "timed_out", "cancelled"})
FINISHED_OUTCOMES = FAILED_OUTCOMES | {"completed"}
RESOLVED = FINISHED_OUTCOMES | {"skipped"}
_HANDLES_FAILURE = frozenset({"on_failure", "on_complete"})


class ChainEdge(BaseModel):
    """``from`` → ``to``, followed when ``type`` is satisfied by the upstream outcome."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    from_: Text = Field(alias="from", min_length=1, max_length=40)
    to: Text = Field(min_length=1, max_length=40)
    type: EdgeType


class ChainGraph(BaseModel):
    """The nodes (job ids, in the order the chain lists them) and edges of a chain."""

    jobs: list[str]
    edges: list[ChainEdge] = []

    def incoming(self, job_id: str) -> list[ChainEdge]:
        """Edges into ``job_id``."""
        return [e for e in self.edges if e.to == job_id]

    def roots(self) -> list[str]:
        """Nodes without incoming edges, in chain order."""
        targets = {e.to for e in self.edges}
        return [j for j in self.jobs if j not in targets]


class GraphProblem(BaseModel):
    """One reason a chain graph is refused: the field it is about and why."""

    field: str
    message: str


def edge_satisfied(edge_type: str, outcome: str) -> bool:
    """Whether an upstream node that ended ``outcome`` satisfies an edge of ``edge_type``.

    A skipped node satisfies no edge.
    """
    if edge_type == "on_success":
        return outcome == "completed"
    if edge_type == "on_failure":
        return outcome in FAILED_OUTCOMES
    if edge_type == "on_complete":
        return outcome in FINISHED_OUTCOMES
    raise ValueError(f"unknown edge type {edge_type!r}")


def find_cycle(jobs: Iterable[str], edges: Iterable[ChainEdge]) -> list[str] | None:
    """A cycle as a closed path (``[a, b, c, a]``), or None when the graph is acyclic."""
    order = list(dict.fromkeys(jobs))
    successors: dict[str, list[str]] = {j: [] for j in order}
    for edge in edges:
        successors.setdefault(edge.from_, []).append(edge.to)
        successors.setdefault(edge.to, [])
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in successors:
        if start in state:
            continue
        path = [start]
        state[start] = 1
        stack = [iter(successors[start])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(successors[nxt]))
    return None


def check_graph(jobs: list[str], edges: list[ChainEdge]) -> list[GraphProblem]:
    """Everything wrong with a chain's shape (job ownership is checked elsewhere)."""
    problems: list[GraphProblem] = []
    seen: set[str] = set()
    for i, job in enumerate(jobs):
        if job in seen:
            problems.append(GraphProblem(field=f"jobs.{i}", message=f"job {job} listed twice"))
        seen.add(job)
    listed: list[ChainEdge] = []
    pairs: set[tuple[str, str, str]] = set()
    for i, edge in enumerate(edges):
        bad = False
        for end, value in (("from", edge.from_), ("to", edge.to)):
            if value not in seen:
                problems.append(
                    GraphProblem(
                        field=f"edges.{i}.{end}",
                        message=f"job {value} is not one of the chain's jobs",
                    )
                )
                bad = True
        key = (edge.from_, edge.to, edge.type)
        if key in pairs:
            problems.append(
                GraphProblem(
                    field=f"edges.{i}",
                    message=f"duplicate edge {edge.from_} → {edge.to} ({edge.type})",
                )
            )
            bad = True
        pairs.add(key)
        if not bad:
            listed.append(edge)
    cycle = find_cycle(jobs, listed)
    if cycle is not None:
        problems.append(
            GraphProblem(field="edges", message="the edges form a cycle: " + " → ".join(cycle))
        )
    return problems


def next_steps(
    graph: ChainGraph, outcomes: Mapping[str, str], started: Iterable[str]
) -> tuple[list[str], list[str]]:
    """Which nodes to start now and which to skip, given the outcomes so far.

    ``outcomes`` maps each resolved node to its outcome (a run status or ``skipped``);
    ``started`` names nodes already running. A node is ready once every upstream node is
    resolved; it runs if at least one incoming edge is satisfied, else it is skipped, which
    may make further nodes ready (all of them are returned at once). Roots are always ready.
    """
    resolved = {job: outcome for job, outcome in outcomes.items() if outcome in RESOLVED}
    busy = set(started) | set(outcomes)
    to_run: list[str] = []
    to_skip: list[str] = []
    changed = True
    while changed:
        changed = False
        for job in graph.jobs:
            if job in busy:
                continue
            incoming = graph.incoming(job)
            if any(e.from_ not in resolved for e in incoming):
                continue
            busy.add(job)
            changed = True
            if not incoming or any(edge_satisfied(e.type, resolved[e.from_]) for e in incoming):
                to_run.append(job)
            else:
                to_skip.append(job)
                resolved[job] = "skipped"
    return to_run, to_skip


def chain_outcome(graph: ChainGraph, outcomes: Mapping[str, str]) -> tuple[str, str | None]:
    """``completed``, or ``failed`` with why: a node failed and no edge handles its failure.

    A failure is handled by an outgoing ``on_failure`` or ``on_complete`` edge.
    """
    unhandled = [
        job
        for job in graph.jobs
        if outcomes.get(job) in FAILED_OUTCOMES
        and not any(e.from_ == job and e.type in _HANDLES_FAILURE for e in graph.edges)
    ]
    if not unhandled:
        return "completed", None
    described = ", ".join(f"{job} ({outcomes[job]})" for job in unhandled)
    return "failed", f"unhandled failure of {described}"


def adopted_chain_run_id(chain_id: str, run_id: str) -> str:
    """The chain run a standalone run of a root job continues into (one per run and chain)."""
    return f"{CHAIN_RUN_PREFIX}{chain_id.removeprefix('chain_')}-{run_id.removeprefix('run_')}"


def node_run_id(chain_run_id: str, job_id: str) -> str:
    """The run id (= child workflow id) of a node in a chain run."""
    return f"run_{chain_run_id.removeprefix(CHAIN_RUN_PREFIX)}-{job_id.removeprefix('job_')}"
