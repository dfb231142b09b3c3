"""Redelivery: send a finished run's result again, without calling the agent.

A workflow of its own (id ``<run id>-redeliver``), so it is as durable as a run: its retries
survive any restart, and a second request while one is in flight is a 409. It reads the run
and the job's *current* channel from the index (fix a wrong channel, then redeliver), delivers
with the same retry policy as a run, and writes the outcome into the run's ``delivery``.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from domain.contract.delivery import DeliveryRecord, RedeliverInput
    from domain.contract.names import REDELIVER_WORKFLOW
    from workflows.delivery import deliver
    from workflows.job_run import INDEX_WRITE_TIMEOUT


@workflow.defn(name=REDELIVER_WORKFLOW)
class RedeliverWorkflow:
    """Deliver a finished run again."""

    @workflow.run
    async def run(self, request: RedeliverInput) -> DeliveryRecord:
        """Plan from the index, deliver, record the outcome on the run."""
        plan = await workflow.execute_local_activity_method(
            DeliveryActivities.plan_redelivery, request, start_to_close_timeout=INDEX_WRITE_TIMEOUT
        )
        if plan.deliver is None:
            raise ApplicationError(plan.reason or "nothing to deliver", non_retryable=True)
        delivery = await deliver(plan.deliver)
        delivery["redelivered"] = True
        record = DeliveryRecord(run_id=request.run_id, delivery=delivery)
        await workflow.execute_local_activity_method(
            DeliveryActivities.record_delivery, record, start_to_close_timeout=INDEX_WRITE_TIMEOUT
        )
        return record
