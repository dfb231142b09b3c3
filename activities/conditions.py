"""Condition evaluation on behalf of the run workflow (a local activity).

It runs as an activity, not in workflow code, so its result is recorded in the history (a change
of the evaluator never changes a recorded run) and ``before_run`` can read the previous run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from api.core.index import runs as index_runs
from domain.conditions import after_run_variables, before_run_variables, evaluate
from domain.contract.conditions import ConditionInput, ConditionResult
from domain.contract.names import EVALUATE_CONDITION

# The previous run of a before_run condition: the latest that called the agent.
_PREVIOUS = ("completed", "failed", "timed_out", "cancelled")


class ConditionEvaluator:
    """Evaluates conditions; built once in the worker."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @activity.defn(name=EVALUATE_CONDITION)
    async def evaluate_condition(self, check: ConditionInput) -> ConditionResult:
        """Evaluate the condition; a failure is ``value: false`` with the reason."""
        if check.stage == "before_run":
            last = await self._previous_run(check.job_id, check.run_id)
            variables = before_run_variables(last, check.now, check.timezone)
        else:
            if check.data_cut:  # its keys are variables too: any expression may read them
                return ConditionResult(
                    expression=check.expression,
                    stage=check.stage,
                    value=False,
                    error="the agent's data was dropped (see the run's answer_notes); a "
                    "condition on it is not evaluated",
                )
            variables = after_run_variables(check.output, check.data)
        outcome = evaluate(check.expression, variables)
        return ConditionResult(
            expression=check.expression, stage=check.stage, value=outcome.value, error=outcome.error
        )

    async def _previous_run(self, job_id: str, run_id: str) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            return await index_runs.previous_run(
                conn, job_id=job_id, run_id=run_id, statuses=_PREVIOUS
            )
