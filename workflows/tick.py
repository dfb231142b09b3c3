"""The tick: a reconciler started by a Temporal schedule of its own (overlap skip).

It holds no state; all of its work is one activity, so a tick is a short, deterministic
workflow whatever it finds.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.tick import TickActivities
    from domain.contract.names import TICK_WORKFLOW
    from domain.contract.tick import ReconcileInput, TickInput, TickResult


@workflow.defn(name=TICK_WORKFLOW)
class TickWorkflow:
    """One reconciliation of the index with Temporal."""

    @workflow.run
    async def run(self, tick: TickInput) -> TickResult:
        """Compare, repair and record; returns what was checked and repaired."""
        return await workflow.execute_activity_method(
            TickActivities.reconcile,
            ReconcileInput(
                workflow_id=workflow.info().workflow_id, grace_seconds=tick.grace_seconds
            ),
            start_to_close_timeout=timedelta(minutes=5),
            # Ticks are skipped while one runs: an attempt lost with its worker or its completion
            # (Temporal unreachable as it ended) must not hold them for the whole five minutes.
            heartbeat_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )
