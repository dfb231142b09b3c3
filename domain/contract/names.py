"""The names Temporal knows workflows, activities, failure types and the task queue by.

They are recorded in every history and schedule: renaming one breaks running workflows.
"""

from __future__ import annotations

# The default task queue (``AGENT_SCHEDULER_TASK_QUEUE``): one per deployment.
TASK_QUEUE = "agent-scheduler"

# Workflow types.
RUN_WORKFLOW = "JobRun"
CHAIN_WORKFLOW = "ChainRun"
REDELIVER_WORKFLOW = "Redeliver"
TICK_WORKFLOW = "AgentSchedulerTick"

# Activity types.
CALL_AGENT = "call_agent"
RECORD_RUN_START = "record_run_start"
CHECK_RUN_BUDGET = "check_run_budget"
RECORD_RUN_FINISH = "record_run_finish"
EVALUATE_CONDITION = "evaluate_condition"
DELIVER_RUN = "deliver_run"
PLAN_REDELIVERY = "plan_redelivery"
RECORD_DELIVERY = "record_delivery"
RECORD_CHAIN_RUN_START = "record_chain_run_start"
RECORD_CHAIN_RUN_PROGRESS = "record_chain_run_progress"
RECORD_CHAIN_RUN_FINISH = "record_chain_run_finish"
RECONCILE = "agent_scheduler_reconcile"

# Failure types activities raise and workflows tell apart.
# An agent's own failure: not retried by Temporal; the job's retry policy decides.
AGENT_CALL_FAILED = "AgentCallFailed"
# A delivery that retrying cannot fix (bad target, not configured, 4xx): final at once.
DELIVERY_REFUSED = "DeliveryRefused"
# A delivery worth retrying (5xx, 429, timeouts, connection errors).
DELIVERY_FAILED = "DeliveryFailed"
