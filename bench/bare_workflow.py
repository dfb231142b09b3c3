"""The baseline of bench/runs.py: a workflow that runs one activity, nothing else."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def bare_echo(goal: str) -> str:
    """The baseline's only activity."""
    return goal


@workflow.defn
class BareWorkflow:
    """The least a Temporal run with one activity can cost."""

    @workflow.run
    async def run(self, goal: str) -> str:
        """Run the activity once."""
        return await workflow.execute_activity(
            bare_echo, goal, start_to_close_timeout=timedelta(seconds=30)
        )
