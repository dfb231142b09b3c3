"""Delivery of a run's result, and the index work of a redelivery (SPEC §8).

``deliver`` is a regular activity with its own retry policy (set by the workflows): a failure
of the channel is retried without ever calling the agent again. It is at-least-once, like any
activity: receivers get a stable delivery id (webhook header, e-mail ``Message-ID``) to drop a
duplicate should a worker die between sending and reporting.
"""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from activities.delivery import email, notify, slack, webhook
from activities.delivery.errors import refused
from api.index.models import jobs, runs
from api.settings import Settings
from domain.delivery import (
    ChannelError,
    DeliverInput,
    DeliverResult,
    DeliveryRecord,
    DeliveryRun,
    RedeliverInput,
    RedeliveryPlan,
    parse_channel,
)


class DeliveryActivities:
    """Delivery activities; built once in the worker."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._http = httpx.AsyncClient(
            timeout=settings.delivery_timeout_seconds, follow_redirects=False
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    @activity.defn(name="deliver_run")
    async def deliver(self, job: DeliverInput) -> DeliverResult:
        """Send the run to its channel; raises a retryable or a final ``ApplicationError``."""
        try:
            channel = parse_channel(job.channel)
        except ChannelError as exc:
            raise refused(f"invalid channel: {exc}") from None
        if channel.provider == "slack":
            return await slack.send(self._http, self._settings, channel, job)
        if channel.provider == "webhook":
            return await webhook.send(self._http, self._settings, channel, job)
        if channel.provider == "email":
            return await email.send(self._settings, channel, job)
        return await notify.send(self._settings, channel, job)

    @activity.defn(name="plan_redelivery")
    async def plan_redelivery(self, request: RedeliverInput) -> RedeliveryPlan:
        """Load the finished run and the job's current channel from the index."""
        async with self._engine.connect() as conn:
            run = (
                await conn.execute(
                    sa.select(runs).where(
                        runs.c.id == request.run_id, runs.c.job_id == request.job_id
                    )
                )
            ).first()
            job = (await conn.execute(sa.select(jobs).where(jobs.c.id == request.job_id))).first()
        if run is None or job is None or job.deleted_at is not None:
            return RedeliveryPlan(reason="the run or its job no longer exists")
        if not job.delivery:
            return RedeliveryPlan(reason="the job has no delivery channel")
        info = activity.info()
        return RedeliveryPlan(
            deliver=DeliverInput(
                delivery_id=f"{request.run_id}/redeliver/{info.workflow_run_id}",
                channel=job.delivery["channel"],
                format=job.delivery.get("format", "markdown"),
                run=DeliveryRun(
                    run_id=run.id,
                    job_id=job.id,
                    job_name=job.name,
                    owner=job.owner,
                    status=run.status,
                    trigger=run.trigger,
                    output=run.output,
                    data=run.data,
                    error=run.error,
                    condition_result=run.condition_result,
                    started_at=run.started_at,
                    completed_at=run.completed_at,
                ),
            )
        )

    @activity.defn(name="record_delivery")
    async def record_delivery(self, record: DeliveryRecord) -> None:
        """Write the run's ``delivery`` field (the outcome of a redelivery)."""
        async with self._engine.begin() as conn:
            await conn.execute(
                runs.update().where(runs.c.id == record.run_id).values(delivery=record.delivery)
            )
