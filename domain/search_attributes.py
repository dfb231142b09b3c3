"""Custom search attributes the scheduler sets on schedules and runs.

Registered on the namespace at start (``dev``) or by the operator (production, docs/operations.md).
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

JOB_ID = SearchAttributeKey.for_keyword("AgentSchedulerJobId")
OWNER = SearchAttributeKey.for_keyword("AgentSchedulerOwner")
TRIGGER = SearchAttributeKey.for_keyword("AgentSchedulerTrigger")

ALL = (JOB_ID, OWNER, TRIGGER)

# Temporal's own: set on the runs a schedule starts.
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


def run_attributes(job_id: str, owner: str, trigger: str) -> TypedSearchAttributes:
    """What makes a job's schedule and runs findable in the Temporal UI."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(JOB_ID, job_id),
            SearchAttributePair(OWNER, owner),
            SearchAttributePair(TRIGGER, trigger),
        ]
    )


def chain_attributes(owner: str) -> TypedSearchAttributes:
    """Search attributes of a chain run's workflow."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(OWNER, owner),
            SearchAttributePair(TRIGGER, "chain"),
        ]
    )
