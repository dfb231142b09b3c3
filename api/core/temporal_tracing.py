"""The Temporal tracing interceptor (docs/operations.md, "Traces"): the SDK's
:class:`~temporalio.contrib.opentelemetry.TracingInterceptor` with two changes.

- Local activities (a run's bookkeeping: ``record_run_start``, ``check_run_budget``,
  ``record_run_finish``, …) make no spans: their ``StartActivity``/``RunActivity`` pair cost
  runs/s and said nothing the workflow's spans do not. They still get the workflow's trace
  context in their headers, attached while they run, so ``record_run_start`` records the run's
  trace id (:func:`api.core.tracing.current_trace_id`).
- A workflow started without a trace (a scheduled run) continues the one its ``RunWorkflow``
  span begins, so its activities' spans, the agent call and its ``trace_id`` share it. Spans
  are made when a workflow task first runs, never on replay: a scheduled run replayed by
  another worker has lost that span, and what it makes next starts traces of its own.

This relies on private names of ``temporalio.contrib.opentelemetry`` (the SDK's version is
pinned); tests/test_traces.py checks the spans a run makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import opentelemetry.context
import opentelemetry.trace
import temporalio.activity
import temporalio.worker
import temporalio.workflow
from temporalio.api.common.v1 import Payload
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.contrib.opentelemetry._interceptor import (
    _TracingActivityInboundInterceptor,
    _TracingWorkflowOutboundInterceptor,
)


class RunTracingInterceptor(TracingInterceptor):
    """The client and worker interceptor: the SDK's, less local activities' spans."""

    def intercept_activity(
        self, next: temporalio.worker.ActivityInboundInterceptor
    ) -> temporalio.worker.ActivityInboundInterceptor:
        return _ActivityInbound(next, self)

    def workflow_interceptor_class(
        self, input: temporalio.worker.WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)  # registers the span-making extern function
        return _WorkflowInbound


class _ActivityInbound(_TracingActivityInboundInterceptor):
    async def execute_activity(self, input: temporalio.worker.ExecuteActivityInput) -> Any:
        """A local activity runs in the trace its headers carry, with no span of its own."""
        if not temporalio.activity.info().is_local:
            return await super().execute_activity(input)
        context = self.root._context_from_headers(input.headers)
        if context is None:
            return await self.next.execute_activity(input)
        token = opentelemetry.context.attach(context)
        try:
            return await self.next.execute_activity(input)
        finally:
            opentelemetry.context.detach(token)


@dataclass
class _Carrier:
    """Where ``_completed_span`` puts the context of the span it made (its outbound input)."""

    headers: Mapping[str, Payload] = field(default_factory=dict)


class _WorkflowInbound(TracingWorkflowInboundInterceptor):
    def init(self, outbound: temporalio.worker.WorkflowOutboundInterceptor) -> None:
        temporalio.worker.WorkflowInboundInterceptor.init(self, _WorkflowOutbound(outbound, self))

    async def execute_workflow(self, input: temporalio.worker.ExecuteWorkflowInput) -> Any:
        """Without a trace in the headers, the workflow's own ``RunWorkflow`` span begins one
        and becomes the workflow's context (the SDK leaves each later span a root)."""
        if self._load_workflow_context_carrier():
            return await super().execute_workflow(input)
        begun = _Carrier()
        with self._top_level_workflow_context(success_is_complete=False):
            self._completed_span(
                f"RunWorkflow:{temporalio.workflow.info().workflow_type}",
                add_to_outbound=begun,
                kind=opentelemetry.trace.SpanKind.SERVER,
            )
        if payload := begun.headers.get(self.header_key):
            self._workflow_context_carrier = self.payload_converter.from_payloads([payload])[0]
        with self._top_level_workflow_context(success_is_complete=True):
            return await self.next.execute_workflow(input)


class _WorkflowOutbound(_TracingWorkflowOutboundInterceptor):
    def start_local_activity(
        self, input: temporalio.worker.StartLocalActivityInput
    ) -> temporalio.workflow.ActivityHandle[Any]:
        """The workflow's trace context goes in the headers; no ``StartActivity`` span."""
        input.headers = self.root._context_to_headers(input.headers)
        return self.next.start_local_activity(input)
