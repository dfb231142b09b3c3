"""The delivery step shared by the run and redelivery workflows (workflow code: no I/O)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from activities.delivery import DeliveryActivities
    from domain.contract.delivery import DeliverInput
    from domain.contract.names import DELIVERY_REFUSED
    from domain.delivery import delivery_status

# Delivery's own retries (never the agent's): 1, 2, 4, 8, 16 s apart, then it is `failed` and
# `POST …/redeliver` can try again. A refusal (bad target, 4xx, not configured) is final at once.
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=6,
    non_retryable_error_types=[DELIVERY_REFUSED],
)
# Up to ten Slack messages of one run, each bounded by the delivery timeout.
DELIVERY_TIMEOUT = timedelta(minutes=5)
# The activity heartbeats every second: a worker lost mid-delivery is noticed within this (not
# after DELIVERY_TIMEOUT), and the retry sends only what the receiver had not accepted.
DELIVERY_HEARTBEAT_TIMEOUT = timedelta(seconds=10)


async def deliver(request: DeliverInput) -> dict[str, Any]:
    """Run the delivery activity; answers the run's ``delivery`` field, delivered or failed."""
    try:
        done = await workflow.execute_activity_method(
            DeliveryActivities.deliver,
            request,
            start_to_close_timeout=DELIVERY_TIMEOUT,
            heartbeat_timeout=DELIVERY_HEARTBEAT_TIMEOUT,
            retry_policy=DELIVERY_RETRY,
        )
    except ActivityError as err:
        cause = err.cause
        if isinstance(cause, CancelledError):
            raise asyncio.CancelledError("delivery cancelled") from err
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or err)
        return delivery_status(request.channel, "failed", at=workflow.now(), error=message)
    if done.skipped:
        return delivery_status(
            request.channel,
            "skipped",
            at=workflow.now(),
            reason=done.skipped,
            comparison=done.comparison,
        )
    return delivery_status(
        request.channel,
        "delivered",
        at=workflow.now(),
        messages=done.messages,
        truncated=done.truncated,
        outbox=done.outbox,
        comparison=done.comparison,
    )
