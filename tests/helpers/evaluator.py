"""The schedule evaluator compared with a live Temporal schedule (docs/time.md, "One evaluator").

Each comparison creates a real, paused Temporal schedule the way jobs are mapped onto schedules
and checks the fire times Temporal reports in ``describe().info.next_action_times`` against
``next_fire_times``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from temporalio.api.workflowservice.v1 import ListScheduleMatchingTimesRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    ScheduleState,
)

from api.core.index.models import Job
from api.core.schedules import schedule_spec
from api.services import job_view
from domain.schedules import CronSchedule, EverySchedule, next_fire_times

# How many future action times Temporal reports; each comparison checks all of them.
COUNT = 10
TASK_QUEUE = "evaluator-comparison-no-worker"


def _utc(times: Sequence[datetime]) -> list[datetime]:
    return [time.astimezone(UTC) for time in times]


async def compare_with_temporal(
    client: Client, spec: ScheduleSpec, evaluate: Callable[[datetime], list[datetime]]
) -> list[datetime]:
    """Assert Temporal's next action times for ``spec`` equal ``evaluate(now)``.

    Args:
        client: A client of the dev server.
        spec: The schedule spec, built as the API builds it.
        evaluate: The evaluator's next ``COUNT`` fire times strictly after an instant.

    Returns:
        The agreed fire times, in UTC.
    """
    for _ in range(5):
        schedule_id = f"evaluator-{uuid.uuid4().hex}"
        before = datetime.now(UTC) - timedelta(seconds=1)
        handle = await client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    "EvaluatorComparisonDummy", id=f"dummy-{schedule_id}", task_queue=TASK_QUEUE
                ),
                spec=spec,
                state=ScheduleState(paused=True, note="evaluator comparison"),
            ),
        )
        try:
            description = await handle.describe()
        finally:
            await handle.delete()
        after = datetime.now(UTC)
        ours = _utc(evaluate(after))
        if _utc(evaluate(before)) != ours:
            # A fire time fell inside the window Temporal counted from: try again.
            await asyncio.sleep(0.3)
            continue
        theirs = _utc(description.info.next_action_times)
        assert ours == theirs, (
            f"evaluator and Temporal disagree for "
            f"{spec.cron_expressions or spec.intervals or spec.calendars} "
            f"in {spec.time_zone_name}:\n"
            f"  evaluator: {[t.isoformat() for t in ours]}\n"
            f"  Temporal:  {[t.isoformat() for t in theirs]}"
        )
        return theirs
    raise AssertionError("a fire time kept falling between creating and describing the schedule")


def job_row(schedule: CronSchedule | EverySchedule, job_id: str = "job_x") -> Job:
    """An active job's index row with ``schedule``, as the API stores it."""
    return Job(
        id=job_id,
        owner="o",
        name="n",
        goal="g",
        agent_id="echo",
        schedule=schedule.model_dump(mode="json"),
        timezone=schedule.timezone,
        status="active",
        timeout_seconds=60,
        overlap="skip",
        max_consecutive_failures=5,
    )


def evaluator_times(schedule: CronSchedule, after: datetime) -> list[datetime]:
    """The evaluator's next ``COUNT`` times, checking that a job's ``next_run_at`` is the first."""
    times = next_fire_times(schedule, after=after, count=COUNT)
    job = job_row(schedule)
    next_run_at = job_view.next_run_at(job.model_dump(), ZoneInfo(schedule.timezone), after)
    assert next_run_at == (times[0] if times else None)
    assert next_run_at is None or next_run_at.tzinfo == ZoneInfo(schedule.timezone)
    return times


async def compare_cron(client: Client, expression: str, timezone: str) -> list[datetime]:
    """Compare a cron job's fire times in ``timezone`` with Temporal's; returns them in UTC."""
    schedule = CronSchedule(type="cron", expression=expression, timezone=timezone)
    return await compare_with_temporal(
        client,
        # As the API builds it: a cron string, or calendars for the day forms (L, W, #).
        schedule_spec(schedule, jitter_seconds=0),
        lambda after: evaluator_times(schedule, after),
    )


# Temporal lists at most this many matching times per request.
MATCHING_TIMES_CAP = 1000


async def temporal_matching_times(
    client: Client, spec: ScheduleSpec, start: datetime, end: datetime
) -> list[datetime]:
    """Every time Temporal's scheduler fires ``spec`` in ``(start, end]`` (its nominal times,
    from ``ListScheduleMatchingTimes`` on a real, paused schedule), in UTC."""
    schedule_id = f"evaluator-{uuid.uuid4().hex}"
    handle = await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(
                "EvaluatorComparisonDummy", id=f"dummy-{schedule_id}", task_queue=TASK_QUEUE
            ),
            spec=spec,
            state=ScheduleState(paused=True, note="evaluator comparison"),
        ),
    )
    try:
        request = ListScheduleMatchingTimesRequest(
            namespace=client.namespace, schedule_id=schedule_id
        )
        request.start_time.FromDatetime(start)
        request.end_time.FromDatetime(end)
        answer = await client.workflow_service.list_schedule_matching_times(request)
    finally:
        await handle.delete()
    times = [t.ToDatetime().replace(tzinfo=UTC) for t in answer.start_time]
    assert len(times) < MATCHING_TIMES_CAP, "the range holds too many fires to compare"
    return times


async def compare_years(
    client: Client, schedule: CronSchedule, start: datetime, years: int = 10
) -> list[datetime]:
    """Assert that every fire of ``years`` years from ``start`` is the same for the evaluator
    and for Temporal, given the spec the API builds for ``schedule``; returns them in UTC."""
    end = start.replace(year=start.year + years)
    theirs = await temporal_matching_times(
        client, schedule_spec(schedule, jitter_seconds=0), start, end
    )
    ours = [
        t.astimezone(UTC)
        for t in next_fire_times(schedule, after=start, count=MATCHING_TIMES_CAP)
        if t <= end
    ]
    assert ours == theirs, (
        f"evaluator and Temporal disagree for {schedule.expression} in {schedule.timezone}: "
        f"only the evaluator {sorted(set(ours) - set(theirs))[:5]}, "
        f"only Temporal {sorted(set(theirs) - set(ours))[:5]}"
    )
    return theirs
