"""Delivery of a run's result, and the index work of a redelivery (docs/api.md, "Jobs").

``deliver`` is a regular activity with its own retry policy (set by the workflows): a failure
of the channel is retried without ever calling the agent again. It is at-least-once, like any
activity, so what it sent is written to the index (``deliveries_sent``) right after the
receiver accepted it, before anything else happens: a retry (a worker died, a later Slack
message failed) sends only what was not accepted yet, and a delivery already complete is not
sent again. Multi-message Slack progress also rides in the heartbeat, in case the index is
unreachable. The one window left is a receiver that accepted a message whose answer never
reached the worker: receivers get a stable delivery id for that (webhook header
``X-Agent-Scheduler-Delivery``, e-mail ``Message-ID``) to drop the duplicate.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.delivery import email, notify, outbox, slack, webhook
from activities.delivery.embeddings import NewsCheck
from activities.delivery.errors import refused
from activities.delivery.progress import Progress
from activities.heartbeat import heartbeating
from api.core import metrics
from api.core.index import deliveries as index_deliveries
from api.core.index import jobs as index_jobs
from api.core.index import runs as index_runs
from api.core.index.models import utcnow
from api.core.settings import Settings
from domain.contract.delivery import (
    DeliverInput,
    DeliverResult,
    DeliveryRecord,
    DeliveryRun,
    RedeliverInput,
    RedeliveryPlan,
)
from domain.contract.names import DELIVER_RUN, PLAN_REDELIVERY, RECORD_DELIVERY
from domain.delivery import ChannelError, parse_channel

log = logging.getLogger(__name__)


class DeliveryActivities:
    """Delivery activities; built once in the worker."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._http = httpx.AsyncClient(
            timeout=settings.delivery_timeout_seconds, follow_redirects=False
        )
        self._news = NewsCheck(engine, settings, self._http)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    @activity.defn(name=DELIVER_RUN)
    async def deliver(self, job: DeliverInput) -> DeliverResult:
        """Send the run to its channel; raises a retryable or a final ``ApplicationError``.

        Each failed attempt is logged as one line (what, which run, which attempt, why).
        """
        provider = _provider(self._settings, job.channel)
        try:
            result = await self._deliver(job)
        except ApplicationError as exc:
            info = activity.info()
            last = exc.non_retryable or bool(
                info.retry_policy
                and info.retry_policy.maximum_attempts
                and info.attempt >= info.retry_policy.maximum_attempts
            )
            metrics.DELIVERIES.labels(provider, "failed" if last else "retrying").inc()
            log.warning(
                "delivery %s of run %s (%s) failed on attempt %d%s: %s",
                job.delivery_id,
                job.run.run_id,
                job.channel.partition(":")[0],  # never the target: it may hold a token
                info.attempt,
                ", not retried" if exc.non_retryable else "",
                exc.message,
            )
            raise
        metrics.DELIVERIES.labels(provider, "skipped" if result.skipped else "sent").inc()
        return result

    async def _deliver(self, job: DeliverInput) -> DeliverResult:
        try:
            channel = parse_channel(job.channel)
        except ChannelError as exc:
            raise refused(f"invalid channel: {exc}") from None
        why, comparison = await self._nothing_new(job)
        if why is not None:
            log.info("delivery %s of run %s skipped: %s", job.delivery_id, job.run.run_id, why)
            return DeliverResult(messages=0, skipped=why, comparison=comparison)
        progress = await self._progress(job)
        if progress.done is not None:
            log.info(
                "delivery %s of run %s was already sent; not sending it again",
                job.delivery_id,
                job.run.run_id,
            )
            done = progress.done.model_copy(update={"comparison": comparison})
            if outbox.applies(self._settings, channel):  # the record does not say where it went
                return done.model_copy(update={"outbox": True})
            return done
        async with heartbeating(progress.details):
            if outbox.applies(self._settings, channel):
                result = await outbox.keep(self._engine, self._settings, channel, job)
            elif channel.provider == "slack":

                async def accepted() -> None:
                    activity.heartbeat(progress.details())
                    await self._remember(job, progress)

                result = await slack.send(
                    self._http, self._settings, channel, job, progress, accepted
                )
            elif channel.provider == "webhook":
                result = await webhook.send(self._http, self._settings, channel, job)
            elif channel.provider == "email":
                result = await email.send(self._settings, channel, job)
            else:
                result = await notify.send(self._settings, channel, job)
            progress.done = result
            await self._remember(job, progress)
        return result.model_copy(update={"comparison": comparison})

    async def _nothing_new(self, job: DeliverInput) -> tuple[str | None, dict[str, Any] | None]:
        """Why the run is not worth sending, or None: the agent answered the silent marker, or
        (only news) its output repeats the job's last delivered one, compared normalized, or
        (``"semantic"``) one of its last delivered ones, by embeddings (``NewsCheck``); and how
        it was compared (the run's ``delivery.comparison``). A run that did not complete is
        never held back."""
        marker = self._settings.silent_marker.strip()
        if marker and (job.run.output or "").strip() == marker:
            return f"the agent answered {marker}: nothing to deliver", None
        if not job.only_if_changed or job.run.status != "completed":
            return None, None
        return await self._news.repeat(job)

    async def _progress(self, job: DeliverInput) -> Progress:
        """What earlier attempts sent: the index's record, or the heartbeat's if further."""
        details = activity.info().heartbeat_details
        progress = Progress.of(dict(details[0]) if details else {})
        try:
            async with self._engine.connect() as conn:
                row = await index_deliveries.delivery_sent(conn, delivery_id=job.delivery_id)
        except (SQLAlchemyError, OSError) as exc:
            log.warning(
                "delivery %s: could not read what was sent (%s); relying on the heartbeat",
                job.delivery_id,
                exc,
            )
            return progress
        if row is None:
            return progress
        if row.messages is not None:
            progress.done = DeliverResult(messages=row.messages, truncated=row.truncated)
        elif row.posted > progress.posted:
            progress.posted, progress.thread_ts = row.posted, row.thread_ts
        return progress

    async def _remember(self, job: DeliverInput, progress: Progress) -> None:
        """Write what was sent; a failure is logged, never raised (it would re-send)."""
        done = progress.done
        values: dict[str, Any] = {
            "posted": done.messages if done else progress.posted,
            "thread_ts": progress.thread_ts,
            "messages": done.messages if done else None,
            "truncated": bool(done and done.truncated),
            "updated_at": utcnow(),
        }
        try:
            async with self._engine.begin() as conn:
                await index_deliveries.remember_delivery(
                    conn, delivery_id=job.delivery_id, run_id=job.run.run_id, values=values
                )
        except (SQLAlchemyError, OSError) as exc:
            log.warning(
                "delivery %s: could not record what was sent (%s); a retry may send it again",
                job.delivery_id,
                exc,
            )

    @activity.defn(name=PLAN_REDELIVERY)
    async def plan_redelivery(self, request: RedeliverInput) -> RedeliveryPlan:
        """Load the finished run and the job's current channel from the index."""
        async with self._engine.connect() as conn:
            run = await index_runs.run_row(conn, job_id=request.job_id, run_id=request.run_id)
            job = await index_jobs.job_row(conn, job_id=request.job_id)
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
                run=DeliveryRun.of_rows(run, job),
            )
        )

    @activity.defn(name=RECORD_DELIVERY)
    async def record_delivery(self, record: DeliveryRecord) -> None:
        """Write the run's ``delivery`` field (the outcome of a redelivery)."""
        async with self._engine.begin() as conn:
            await index_runs.set_run_delivery(conn, run_id=record.run_id, delivery=record.delivery)


def _provider(settings: Settings, text: str) -> str:
    """The ``provider`` label of a delivery: a channel kind, never its target."""
    try:
        channel = parse_channel(text)
    except ChannelError:
        return "invalid"
    return "outbox" if outbox.applies(settings, channel) else channel.provider
