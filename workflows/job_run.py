"""The job-run workflow: every run of a job, whatever started it (schedule, trigger, chain).

Order (SPEC §6): record the start → call the agent under the job's retry policy → record the end.
Retry delays are workflow timers, so a retry waiting for its delay survives any restart.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy as TemporalRetryPolicy
from temporalio.common import SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, TimeoutError

with workflow.unsafe.imports_passed_through():
    from activities.agents import AGENT_CALL_FAILED, AgentActivities, AgentCallInput
    from activities.runs import RunRecorder
    from domain.payloads import (
        AttemptError,
        JobRunInput,
        JobRunResult,
        JobSnapshot,
        RunFinish,
        RunStart,
    )
    from domain.retry import RetryPolicy

SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
# A dead worker is noticed within this, and the call moves to another worker.
HEARTBEAT_TIMEOUT = timedelta(seconds=10)
# Infrastructure failures (worker lost, heartbeat missed) are retried by Temporal; failures the
# agent reported are not: the job's own retry policy decides on those.
INFRA_RETRY = TemporalRetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=10,
    non_retryable_error_types=[AGENT_CALL_FAILED],
)
INDEX_WRITE_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name="JobRun")
class JobRunWorkflow:
    """One run of a job."""

    def __init__(self) -> None:
        self._attempts = 0
        self._errors: list[AttemptError] = []

    @workflow.run
    async def run(self, run: JobRunInput) -> JobRunResult:
        """Run the job once and record the outcome in the index."""
        job = run.job or await self._record_start(run)
        if job is None:
            return JobRunResult(status="cancelled", error=f"job {run.job_id} no longer exists")
        try:
            result = await self._call_agent(job, run)
        except asyncio.CancelledError:
            await self._finish(run, JobRunResult(status="cancelled", error="run cancelled"))
            raise
        await self._finish(run, result)
        return result

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
            ),
            start_to_close_timeout=INDEX_WRITE_TIMEOUT,
        )
        return started.job

    async def _call_agent(self, job: JobSnapshot, run: JobRunInput) -> JobRunResult:
        policy = RetryPolicy.model_validate(job.retry or {})
        scheduled_at = workflow.info().typed_search_attributes.get(SCHEDULED_START)
        for attempt in range(1, policy.max_attempts + 1):
            self._attempts = attempt
            try:
                answer = await workflow.execute_activity_method(
                    AgentActivities.call_agent,
                    AgentCallInput(
                        run_id=workflow.info().workflow_id,
                        job_id=job.job_id,
                        agent_id=job.agent_id,
                        goal=job.goal,
                        attempt=attempt,
                        scheduled_at=scheduled_at,
                        context=run.context or {},
                        timeout_seconds=job.timeout_seconds,
                    ),
                    start_to_close_timeout=timedelta(seconds=job.timeout_seconds + 30),
                    heartbeat_timeout=HEARTBEAT_TIMEOUT,
                    retry_policy=INFRA_RETRY,
                    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
                return JobRunResult(status="completed", output=answer.output, data=answer.data)
            except ActivityError as err:
                if isinstance(err.cause, CancelledError):
                    raise asyncio.CancelledError("run cancelled") from err
                kind, message, retryable = _describe_failure(err)
                self._errors.append(
                    AttemptError(attempt=attempt, at=workflow.now(), kind=kind, error=message)
                )
                if not retryable or attempt == policy.max_attempts:
                    break
                await workflow.sleep(timedelta(seconds=policy.delay_after(attempt)))
        last = self._errors[-1]
        return JobRunResult(
            status="timed_out" if last.kind == "timeout" else "failed", error=last.error
        )

    async def _finish(self, run: JobRunInput, result: JobRunResult) -> None:
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
                output=result.output,
                data=result.data,
                error=result.error,
            ),
            start_to_close_timeout=INDEX_WRITE_TIMEOUT,
        )


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
