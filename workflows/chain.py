"""The chain workflow: one run of a chain, each node a child job-run workflow (docs/api.md,
"Chains").

A node runs at most once, when every upstream node is resolved and at least one incoming edge
is satisfied; otherwise it is skipped. Nodes that are ready together run in parallel. Child
workflow ids derive from the chain run's id, so a worker that dies mid-chain loses nothing and
starts nothing twice: the new worker replays the history and waits on the same children.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import (
    CancelledError,
    ChildWorkflowError,
    TimeoutError,
    WorkflowAlreadyStartedError,
)

with workflow.unsafe.imports_passed_through():
    from activities.chains import ChainRecorder
    from domain import search_attributes
    from domain.chains import FINISHED_OUTCOMES, RESOLVED, chain_outcome, next_steps, node_run_id
    from domain.contract.chains import (
        ChainNode,
        ChainRunFinish,
        ChainRunInput,
        ChainRunProgress,
        ChainRunResult,
        ChainRunStart,
    )
    from domain.contract.names import CHAIN_WORKFLOW
    from domain.contract.runs import JobRunInput, JobRunResult, RunStatus
    from domain.limits import MAX_OUTPUT_CHARS, cut_output
    from workflows.job_run import INDEX_WRITE_TIMEOUT, JobRunWorkflow


@workflow.defn(name=CHAIN_WORKFLOW)
class ChainWorkflow:
    """One run of a chain."""

    def __init__(self) -> None:
        self._nodes: dict[str, ChainNode] = {}
        self._results: dict[str, JobRunResult] = {}
        self._finished: list[tuple[str, JobRunResult]] = []

    @workflow.run
    async def run(self, chain: ChainRunInput) -> ChainRunResult:
        """Run the chain's nodes as the edges say and record the outcome in the index."""
        info = workflow.info()
        self._nodes = {job: ChainNode(job_id=job) for job in chain.graph.jobs}
        if chain.root is not None:
            root = self._nodes[chain.root.job_id]
            root.status, root.run_id = chain.root.status, chain.root.run_id
            self._results[root.job_id] = JobRunResult.model_validate(
                chain.root.model_dump(include={"status", "output", "data", "error"})
            )
        started = await workflow.execute_local_activity_method(
            ChainRecorder.record_start,
            ChainRunStart(
                chain_run_id=info.workflow_id,
                temporal_run_id=info.run_id,
                chain_id=chain.chain_id,
                owner=chain.owner,
                trigger=chain.trigger,
                root_run_id=chain.root.run_id if chain.root else None,
                started_at=info.start_time,
                nodes=self._node_list(),
            ),
            start_to_close_timeout=INDEX_WRITE_TIMEOUT,
        )
        if not started.exists:
            return ChainRunResult(
                status="cancelled", nodes=self._node_list(), error="the chain was deleted"
            )
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            await self._run_nodes(chain, tasks)
        except asyncio.CancelledError:
            for task in tasks.values():
                task.cancel()
            # Children record themselves cancelled; wait for them so the nodes say so too.
            await workflow.wait_condition(lambda: all(t.done() for t in tasks.values()))
            self._collect()
            for node in self._nodes.values():
                if node.status == "pending":
                    node.status = "skipped"
            await self._finish("cancelled", "chain run cancelled")
            raise
        status, error = chain_outcome(chain.graph, self._outcomes())
        await self._finish(status, error)
        return ChainRunResult(status=status, nodes=self._node_list(), error=error)

    async def _run_nodes(self, chain: ChainRunInput, tasks: dict[str, asyncio.Task[None]]) -> None:
        while True:
            to_run, to_skip = next_steps(chain.graph, self._outcomes(), tasks)
            for job in to_skip:
                self._nodes[job].status = "skipped"
            for job in to_run:
                node = self._nodes[job]
                node.status = "running"
                node.run_id = node_run_id(workflow.info().workflow_id, job)
                tasks[job] = asyncio.create_task(
                    self._run_node(chain, job, node.run_id, self._context(chain, job))
                )
            if to_run or to_skip:
                await self._record_progress()
            if all(node.status in RESOLVED for node in self._nodes.values()):
                return
            await workflow.wait_condition(lambda: bool(self._finished))
            self._collect()

    async def _run_node(
        self, chain: ChainRunInput, job_id: str, run_id: str, context: dict[str, Any]
    ) -> None:
        try:
            result = await workflow.execute_child_workflow(
                JobRunWorkflow.run,
                JobRunInput(
                    job_id=job_id,
                    owner=chain.owner,
                    trigger="chain",
                    chain_id=chain.chain_id,
                    context=context,
                ),
                id=run_id,
                # If this workflow is terminated, the children still record their end.
                parent_close_policy=workflow.ParentClosePolicy.REQUEST_CANCEL,
                search_attributes=search_attributes.run_attributes(job_id, chain.owner, "chain"),
                static_summary=f"{chain.name}: {job_id}"[:200],
            )
        except ChildWorkflowError as err:
            result = JobRunResult(status=_child_failure_status(err), error=str(err.cause or err))
        except WorkflowAlreadyStartedError as err:
            result = JobRunResult(status="failed", error=f"run {run_id} could not start: {err}")
        except asyncio.CancelledError:
            result = JobRunResult(status="cancelled", error="chain run cancelled")
        self._finished.append((job_id, result))

    def _collect(self) -> None:
        """Take in the results of children that finished."""
        while self._finished:
            job, result = self._finished.pop(0)
            self._results[job] = result
            self._nodes[job].status = result.status

    def _context(self, chain: ChainRunInput, job_id: str) -> dict[str, Any]:
        """What the node's agent gets in ``context``: its upstream runs' results."""
        upstream: dict[str, Any] = {}
        for edge in chain.graph.incoming(job_id):
            result = self._results.get(edge.from_)
            node = self._nodes[edge.from_]
            if result is None or node.status not in FINISHED_OUTCOMES or edge.from_ in upstream:
                continue
            upstream[edge.from_] = {
                "run_id": node.run_id,
                "status": result.status,
                "output": result.output,
                "data": result.data,
            }
        # All upstream outputs together fit in what one run's output may be.
        share = MAX_OUTPUT_CHARS // max(len(upstream), 1)
        for entry in upstream.values():
            if entry["output"] is not None:
                entry["output"] = cut_output(entry["output"], share)
        return {
            "chain_id": chain.chain_id,
            "chain_run_id": workflow.info().workflow_id,
            "upstream": upstream,
        }

    def _outcomes(self) -> dict[str, str]:
        return {job: n.status for job, n in self._nodes.items() if n.status in RESOLVED}

    def _node_list(self) -> list[ChainNode]:
        return [node.model_copy() for node in self._nodes.values()]

    async def _record_progress(self) -> None:
        await workflow.execute_local_activity_method(
            ChainRecorder.record_progress,
            ChainRunProgress(chain_run_id=workflow.info().workflow_id, nodes=self._node_list()),
            start_to_close_timeout=INDEX_WRITE_TIMEOUT,
        )

    async def _finish(self, status: Any, error: str | None) -> None:
        await workflow.execute_local_activity_method(
            ChainRecorder.record_finish,
            ChainRunFinish(
                chain_run_id=workflow.info().workflow_id,
                status=status,
                completed_at=workflow.now(),
                nodes=self._node_list(),
                error=error,
            ),
            start_to_close_timeout=INDEX_WRITE_TIMEOUT,
        )


def _child_failure_status(err: ChildWorkflowError) -> RunStatus:
    if isinstance(err.cause, CancelledError):
        return "cancelled"
    if isinstance(err.cause, TimeoutError):
        return "timed_out"
    return "failed"
