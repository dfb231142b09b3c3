"""Custom search attributes the scheduler sets on schedules and runs.

Registered on the namespace at start (``dev``) or by the operator (production, see README).
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

JOB_ID = SearchAttributeKey.for_keyword("AgentSchedulerJobId")
OWNER = SearchAttributeKey.for_keyword("AgentSchedulerOwner")
TRIGGER = SearchAttributeKey.for_keyword("AgentSchedulerTrigger")

ALL = (JOB_ID, OWNER, TRIGGER)
