"""OpenTelemetry traces (docs/operations.md, "Traces"): on when the standard ``OTEL_*``
variables name an OTLP endpoint, off (nothing exported, no interceptor) otherwise.

One trace runs from the API request through the Temporal client call, the workflow and its
activities to the agent call, which carries ``traceparent`` (an HTTP header for http and openai
agents, the ``TRACEPARENT`` variable for command agents). A scheduled run has no request
before it: its workflow starts a trace of its own.

A request that only reads (``GET``, ``HEAD``, ``OPTIONS``) starts no trace of its own: reads are
the volume (dashboards and agents polling) and start nothing, so they are traced only when the
caller sends a sampled ``traceparent``, or every one with ``AGENT_SCHEDULER_TRACE_READS=true``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, MutableMapping
from typing import Any

import httpx
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

log = logging.getLogger(__name__)

# Either names where spans go; without one nothing is exported.
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
DEFAULT_SERVICE_NAME = "agent-scheduler"

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TRACE_READS_VARIABLE = "AGENT_SCHEDULER_TRACE_READS"

_lock = threading.Lock()
_provider: TracerProvider | None = None


def enabled() -> bool:
    """Whether traces are exported: an OTLP endpoint is set and the SDK is not disabled."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def configure() -> bool:
    """Install the tracer provider with the OTLP/HTTP exporter once per process, when
    :func:`enabled`; True when traces are exported."""
    global _provider
    if not enabled():
        return False
    with _lock:
        if _provider is None:
            # Imported here: without tracing, the exporter and its protobuf stay unloaded.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            if protocol != "http/protobuf":
                log.warning(
                    "OTEL_EXPORTER_OTLP_PROTOCOL=%s: traces go over http/protobuf", protocol
                )
            attributes = (
                {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: DEFAULT_SERVICE_NAME}
            )
            provider = TracerProvider(resource=Resource.create(attributes))
            # The exporter reads its endpoint, headers and timeout from the OTEL_* variables,
            # the processor its batch and delay.
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            trace.set_tracer_provider(provider)
            _provider = provider
    return True


def untraced_request() -> Callable[[MutableMapping[str, Any]], bool]:
    """Which requests the API traces not at all (FastAPI's telemetry ``exclude``): a read
    without a ``traceparent``, unless ``AGENT_SCHEDULER_TRACE_READS=true``."""
    if os.environ.get(TRACE_READS_VARIABLE, "").strip().lower() == "true":
        return lambda scope: False

    def untraced(scope: MutableMapping[str, Any]) -> bool:
        return scope.get("method") in READ_METHODS and not any(
            name == b"traceparent" for name, _ in scope.get("headers", ())
        )

    return untraced


def temporal_interceptors() -> list[Any]:
    """The Temporal interceptor that carries the trace through client, workflows and
    activities (empty when traces are off). Workflow spans are made for scheduled runs too;
    local activities make none (:mod:`api.core.temporal_tracing`)."""
    if not configure():
        return []
    from api.core.temporal_tracing import RunTracingInterceptor

    return [RunTracingInterceptor(always_create_workflow_spans=True)]


def instrument_client(client: httpx.AsyncClient) -> None:
    """Give ``client``'s requests a span each and the ``traceparent`` header (traces on)."""
    if configure():
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client)


def current_trace_id() -> str | None:
    """The current span's trace id (32 hex digits), or None outside a recorded trace. In a
    local activity, which has no span, the trace its headers carried."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def traceparent_environment() -> dict[str, str]:
    """``TRACEPARENT`` (and ``TRACESTATE``) for a child process, from the current span."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {
        name.upper(): value
        for name, value in carrier.items()
        if name in ("traceparent", "tracestate")
    }


def shutdown() -> None:
    """Export what is buffered and stop (called as a process stops)."""
    if _provider is not None:
        _provider.shutdown()
