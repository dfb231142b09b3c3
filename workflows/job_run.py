"""The job-run workflow: every run of a job, whatever started it (schedule, trigger, chain).

Order (docs/api.md, "Runs"): record the start → the job's budget (past it: the run is
``skipped`` and the job pauses) → a ``before_run`` condition (false: the run is ``skipped``)
→ call the agent under the job's retry policy → an ``after_run`` condition → deliver → record the
end. Retry delays are workflow timers, so a retry waiting for its delay survives any restart.
The budget, condition and delivery steps sit behind ``workflow.patched`` and run only for jobs
that have one, so histories recorded before them replay unchanged; so does the move to a
fallback agent after a transient provider error (docs/api.md, "Fallback agents").
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.common import RetryPolicy as TemporalRetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    RetryState,
    TimeoutError,
)

with workflow.unsafe.imports_passed_through():
    from activities.agents import AgentActivities
    from activities.conditions import ConditionEvaluator
    from activities.runs import RunRecorder
    from domain.contract.agents import AgentCallInput
    from domain.contract.conditions import ConditionInput, ConditionResult
    from domain.contract.delivery import DeliverInput, DeliveryRun
    from domain.contract.names import AGENT_CALL_FAILED, RUN_WORKFLOW
    from domain.contract.runs import (
        AttemptDispatches,
        AttemptError,
        BudgetCheck,
        JobRunInput,
        JobRunResult,
        JobSnapshot,
        RunFinish,
        RunStart,
    )
    from domain.delivery import DEFAULT_SIMILARITY_THRESHOLD, Delivery, delivery_status
    from domain.retry import INFRA_DISPATCHES, RetryPolicy, is_transient
    from domain.search_attributes import SCHEDULED_START
    from workflows.delivery import deliver

# A dead worker is noticed within this, and the call moves to another worker.
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# Infrastructure failures (worker lost, heartbeat missed) are retried by Temporal; failures the
# agent reported are not: the job's own retry policy decides on those.
INFRA_RETRY = TemporalRetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=INFRA_DISPATCHES,
    non_retryable_error_types=[AGENT_CALL_FAILED],
)
INDEX_WRITE_TIMEOUT = timedelta(seconds=30)
CONDITIONS_PATCH = "conditions-and-delivery"
BUDGET_PATCH = "budget-check"
FALLBACK_PATCH = "fallback-agents"


@workflow.defn(name=RUN_WORKFLOW)
class JobRunWorkflow:
    """One run of a job."""

    def __init__(self) -> None:
        self._attempts = 0
        self._errors: list[AttemptError] = []
        self._dispatches: list[AttemptDispatches] = []
        self._trigger: str | None = None
        # The agent of the latest attempt (the job's, or a fallback agent).
        self._agent_id: str | None = None

    @workflow.run
    async def run(self, run: JobRunInput) -> JobRunResult:
        """Run the job once and record the outcome in the index."""
        job = run.job or await self._record_start(run)
        if job is None:
            return JobRunResult(status="cancelled", error=f"job {run.job_id} no longer exists")
        if job.budget and workflow.patched(BUDGET_PATCH):
            verdict = await workflow.execute_local_activity_method(
                RunRecorder.check_budget,
                BudgetCheck(
                    run_id=workflow.info().workflow_id,
                    job_id=job.job_id,
                    timezone=job.timezone,
                    budget=job.budget,
                    at=workflow.now(),
                ),
                start_to_close_timeout=INDEX_WRITE_TIMEOUT,
            )
            if not verdict.allowed:
                reason = verdict.reason or "budget"
                over = JobRunResult(status="skipped")
                why = f"the run was not started: {reason}"
                await self._finish(run, over, None, _not_delivered(job, why), skip_reason=reason)
                return over
        gate: ConditionResult | None = None
        if _stage(job) == "before_run" and workflow.patched(CONDITIONS_PATCH):
            gate = await self._evaluate(job, "before_run")
            if not gate.value:
                skipped = JobRunResult(status="skipped")
                why = "the before_run condition was false; the agent was not called"
                await self._finish(run, skipped, gate.model_dump(), _not_delivered(job, why))
                return skipped
        try:
            result = await self._call_agent(job, run)
        except asyncio.CancelledError:
            await self._finish(run, JobRunResult(status="cancelled", error="run cancelled"))
            raise
        if (job.condition or job.delivery) and workflow.patched(CONDITIONS_PATCH):
            try:
                condition, delivered = await self._after_run(job, run, result, gate)
            except asyncio.CancelledError:
                # Cancelled during the after_run condition or the delivery (retries included):
                # the run ends cancelled, as Temporal ends it (docs/api.md, "Runs"), keeping the
                # agent's answer. Only the recorded end changes, not the commands: no patch needed.
                cancelled = _not_delivered(job, "the run was cancelled before delivery")
                ended = result.model_copy(update={"status": "cancelled", "error": "run cancelled"})
                await self._finish(run, ended, gate.model_dump() if gate else None, cancelled)
                raise
            await self._finish(run, result, condition, delivered)
            return result
        await self._finish(run, result)
        return result

    async def _evaluate(
        self, job: JobSnapshot, stage: str, result: JobRunResult | None = None
    ) -> ConditionResult:
        return await workflow.execute_local_activity_method(
            ConditionEvaluator.evaluate_condition,
            ConditionInput(
                expression=job.condition.expression if job.condition else "",
                stage="before_run" if stage == "before_run" else "after_run",
                job_id=job.job_id,
                run_id=workflow.info().workflow_id,
                timezone=job.timezone,
                now=workflow.now(),
                output=result.output if result else None,
                data=result.data if result else None,
                data_cut=bool(result and "data" in result.cut),
            ),
            start_to_close_timeout=INDEX_WRITE_TIMEOUT,
        )

    async def _after_run(
        self,
        job: JobSnapshot,
        run: JobRunInput,
        result: JobRunResult,
        gate: ConditionResult | None,
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The ``after_run`` condition, then the delivery: (condition_result, delivery)."""
        condition = gate.model_dump() if gate else None
        if result.status != "completed":
            return condition, _not_delivered(job, f"the run {result.status}; nothing to deliver")
        if job.condition and _stage(job) == "after_run":
            check = await self._evaluate(job, "after_run", result)
            condition = check.model_dump()
            if not check.value:
                why = (
                    f"the condition could not be evaluated: {check.error}"
                    if check.error
                    else "the after_run condition was false"
                )
                return condition, _not_delivered(job, why)
        if not job.delivery:
            return condition, None
        info = workflow.info()
        delivery = await deliver(
            DeliverInput(
                delivery_id=f"{info.workflow_id}/delivery",
                channel=job.delivery.channel,
                format=job.delivery.format,
                only_if_changed=_only_if_changed(job.delivery),
                similarity_threshold=getattr(
                    job.delivery, "similarity_threshold", DEFAULT_SIMILARITY_THRESHOLD
                ),
                run=DeliveryRun(
                    run_id=info.workflow_id,
                    job_id=job.job_id,
                    job_name=job.name,
                    owner=job.owner,
                    status=result.status,
                    trigger=self._trigger or run.trigger,
                    output=result.output,
                    data=result.data,
                    error=result.error,
                    condition_result=condition,
                    started_at=info.start_time,
                    completed_at=workflow.now(),
                ),
            )
        )
        return condition, delivery

    async def _record_start(self, run: JobRunInput) -> JobSnapshot | None:
        info = workflow.info()
        started = await workflow.execute_local_activity_method(
            RunRecorder.record_start,
            RunStart(
                run_id=info.workflow_id,
                temporal_run_id=info.run_id,
                job_id=run.job_id,
                owner=run.owner,
                trigger=run.trigger,
                chain_id=run.chain_id,
                scheduled_at=info.typed_search_attributes.get(SCHEDULED_START),
                started_at=info.start_time,
                input=run.input,
            ),
            start_to_close_timeout=INDEX_WRITE_TIMEOUT,
        )
        self._trigger = started.trigger
        return started.job

    async def _call_agent(self, job: JobSnapshot, run: JobRunInput) -> JobRunResult:
        policy = job.retry or RetryPolicy()
        scheduled_at = workflow.info().typed_search_attributes.get(SCHEDULED_START)
        agents = [job.agent_id, *(job.fallback_agent_ids or [])]
        moves = 0  # transient failures so far: the next attempt's agent, round the list
        for attempt in range(1, policy.max_attempts + 1):
            self._attempts = attempt
            agent_id = agents[moves % len(agents)]
            self._agent_id = agent_id
            try:
                answer = await workflow.execute_activity_method(
                    AgentActivities.call_agent,
                    AgentCallInput(
                        run_id=workflow.info().workflow_id,
                        job_id=job.job_id,
                        agent_id=agent_id,
                        goal=job.goal,
                        attempt=attempt,
                        scheduled_at=scheduled_at,
                        context=run.context or {},
                        input=run.input,
                        timeout_seconds=job.timeout_seconds,
                    ),
                    start_to_close_timeout=timedelta(seconds=job.timeout_seconds + 30),
                    heartbeat_timeout=HEARTBEAT_TIMEOUT,
                    retry_policy=INFRA_RETRY,
                    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
                self._dispatched(attempt, answer.dispatch)
                return JobRunResult(
                    status="completed",
                    output=answer.output,
                    data=answer.data,
                    usage=answer.usage,
                    cut=answer.cut,
                    answer_notes=answer.notes,
                )
            except ActivityError as err:
                if isinstance(err.cause, CancelledError):
                    raise asyncio.CancelledError("run cancelled") from err
                self._dispatched(attempt, _dispatches_of(err))
                kind, message, retryable = _describe_failure(err)
                self._errors.append(
                    AttemptError(
                        attempt=attempt,
                        at=workflow.now(),
                        kind=kind,
                        error=message,
                        agent_id=agent_id,
                    )
                )
                if not retryable or attempt == policy.max_attempts:
                    break
                if (
                    len(agents) > 1
                    and is_transient(kind, retryable)
                    and workflow.patched(FALLBACK_PATCH)
                ):
                    moves += 1
                await workflow.sleep(timedelta(seconds=policy.delay_after(attempt)))
        last = self._errors[-1]
        return JobRunResult(
            status="timed_out" if last.kind == "timeout" else "failed", error=last.error
        )

    def _dispatched(self, attempt: int, dispatches: int) -> None:
        self._dispatches.append(AttemptDispatches(attempt=attempt, dispatches=dispatches))

    async def _finish(
        self,
        run: JobRunInput,
        result: JobRunResult,
        condition_result: dict[str, Any] | None = None,
        delivery: dict[str, Any] | None = None,
        *,
        skip_reason: str | None = None,
    ) -> None:
        await workflow.execute_local_activity_method(
            RunRecorder.record_finish,
            RunFinish(
                run_id=workflow.info().workflow_id,
                temporal_run_id=workflow.info().run_id,
                job_id=run.job_id,
                status=result.status,
                completed_at=workflow.now(),
                attempts=self._attempts,
                attempt_errors=self._errors,
                attempt_dispatches=self._dispatches,
                output=result.output,
                data=result.data,
                error=result.error,
                condition_result=condition_result,
                delivery=delivery,
                usage=result.usage,
                skip_reason=skip_reason,
                cut=result.cut,
                answer_notes=result.answer_notes,
                agent_id=self._agent_id,
            ),
            start_to_close_timeout=INDEX_WRITE_TIMEOUT,
        )


def _stage(job: JobSnapshot) -> str | None:
    """The stage of the job's condition, or None without one."""
    if not job.condition:
        return None
    return job.condition.stage or "after_run"


def _only_if_changed(delivery: Delivery | None) -> bool | Literal["semantic"]:
    """The delivery's ``only_if_changed``: ``"semantic"`` as is, anything else as a bool."""
    value = getattr(delivery, "only_if_changed", False)
    return "semantic" if value == "semantic" else bool(value)


def _not_delivered(job: JobSnapshot, reason: str) -> dict[str, Any] | None:
    """The ``delivery`` field of a run that was not delivered (None when the job has none)."""
    if not job.delivery:
        return None
    return delivery_status(job.delivery.channel, "skipped", at=workflow.now(), reason=reason)


def _dispatches_of(err: ActivityError) -> int:
    """How many times the failed attempt was dispatched: the activity reports it with the
    agent's failures; infrastructure failures end the activity after all of INFRA_RETRY's."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == AGENT_CALL_FAILED and cause.details:
        return int(cause.details[0].get("dispatch", 1))
    if err.retry_state == RetryState.MAXIMUM_ATTEMPTS_REACHED:
        return INFRA_RETRY.maximum_attempts
    return 1


def _describe_failure(err: ActivityError) -> tuple[str, str, bool]:
    """(kind, message, retryable under the job's policy) of a failed attempt."""
    cause = err.cause
    if isinstance(cause, ApplicationError) and cause.type == AGENT_CALL_FAILED:
        details = cause.details[0] if cause.details else {}
        return str(details.get("kind", "error")), cause.message, bool(details.get("retryable"))
    if isinstance(cause, TimeoutError):
        return (
            "timeout",
            f"agent call timed out ({cause.type.name.lower() if cause.type else 'timeout'})",
            True,
        )
    return "error", str(cause or err), True
