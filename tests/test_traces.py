"""One trace from the API request to the agent call (docs/operations.md, "Traces"): an OTLP/HTTP
receiver in the test decodes what ``agent-scheduler dev`` exports, with opentelemetry-proto.
Local activities (the run's bookkeeping) make no spans, and the histories traced runs leave
replay with the tracing interceptor and without it."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from api.core.temporal_tracing import RunTracingInterceptor
from domain.contract.names import CHECK_RUN_BUDGET, RECORD_RUN_FINISH, RECORD_RUN_START
from tests.helpers.api import JOBS
from tests.helpers.dev import running_dev, until
from tests.helpers.histories import HISTORIES
from tests.helpers.servers import Reply, ScriptedServer
from worker import WORKFLOWS

pytestmark = pytest.mark.server  # runs `agent-scheduler dev`


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    service: str
    attributes: dict[str, str]


@dataclass
class Receiver:
    """What an OTLP/HTTP collector at ``url`` was sent."""

    url: str = ""
    spans: list[Span] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, trace_id: str) -> list[Span]:
        with self.lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    def of_workflow(self, workflow_id: str) -> list[Span]:
        """The spans the workflow ``workflow_id`` (a run's id) and its activities made."""
        with self.lock:
            return [s for s in self.spans if s.attributes.get("temporalWorkflowID") == workflow_id]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            with found.lock:
                for resource in request.resource_spans:
                    attributes = {a.key: a.value.string_value for a in resource.resource.attributes}
                    for scope in resource.scope_spans:
                        found.spans.extend(
                            Span(
                                span.trace_id.hex(),
                                span.span_id.hex(),
                                span.parent_span_id.hex(),
                                span.name,
                                attributes.get("service.name", ""),
                                {a.key: a.value.string_value for a in span.attributes},
                            )
                            for span in scope.spans
                        )
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


def test_one_trace_runs_from_the_trigger_request_to_the_agent_call(
    tmp_path: Path, receiver: Receiver, agent_server: ScriptedServer
) -> None:
    agents = tmp_path / "agents.toml"
    agents.write_text(f'[agents.web]\nkind = "http"\nurl = "{agent_server.url}/agent"\n')
    # The first attempt is refused (503), the second answers: both calls carry the trace.
    agent_server.script("/agent", Reply(503, {"error": "busy"}), Reply(200, {"output": "done"}))
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "AGENT_SCHEDULER_LOG_FORMAT": "json",
    }
    with running_dev(tmp_path / "data", tmp_path / "logs", env=env, agents=agents) as dev:
        headers = dev.headers()
        job = dev.create_job(
            agent_id="web", retry={"max_attempts": 2, "strategy": "fixed", "base_delay": 1}
        )
        # The caller's own trace: the run continues it.
        caller = "4bf92f3577b34da6a3ce929d0e0e4736"
        run = dev.trigger_to_the_end(job["id"], traceparent=f"00-{caller}-00f067aa0ba902b7-01")
        run_id = run["id"]
        assert run["status"] == "completed" and run["attempts"] == 2
        trace_id = run["trace_id"]
        assert trace_id == caller

        # The agent received the run's trace on both attempts, each from its own span.
        calls = agent_server.calls("/agent")
        parents = [call.headers["traceparent"].split("-") for call in calls]
        assert [p[1] for p in parents] == [trace_id, trace_id]
        assert parents[0][2] != parents[1][2]

        # The collector got the whole path under that one trace id.
        names = until(
            "the run's spans",
            lambda: (n := {s.name for s in receiver.of(trace_id)}) >= EXPECTED and n,
        )
        assert "POST /api/scheduler/jobs/{job_id}/trigger" in names, names
        spans = receiver.of(trace_id)
        ids = {span.span_id for span in spans}
        # One tree under the caller's span: every span but the request's has its parent in
        # the trace, and the request's is the caller's.
        roots = [span for span in spans if span.parent_id not in ids]
        assert [root.name for root in roots] == ["POST /api/scheduler/jobs/{job_id}/trigger"]
        assert roots[0].parent_id == "00f067aa0ba902b7"
        assert {span.service for span in spans} == {"agent-scheduler"}
        # Whatever the run's workflow traced is in that trace.
        assert {span.trace_id for span in receiver.of_workflow(run_id)} == {trace_id}

        # A scheduled run starts a trace of its own.
        scheduled = dev.create_job(agent_id="web", schedule={"type": "every", "interval": 1})
        runs_url = f"{dev.api}{JOBS}/{scheduled['id']}/runs"
        first = until(
            "a scheduled run with a trace",
            lambda: next(
                (
                    r
                    for r in httpx.get(runs_url, headers=headers).json()["runs"]
                    if r["trace_id"] and r["status"] != "running"
                ),
                None,
            ),
        )
        httpx.delete(f"{dev.api}{JOBS}/{scheduled['id']}", headers=headers)
        assert first["trigger"] == "schedule" and first["trace_id"] != trace_id
        # Its workflow's span begins that trace, and its activities and agent call continue it.
        scheduled_trace = first["trace_id"]
        until(
            "the scheduled run's spans",
            lambda: {s.name for s in receiver.of(scheduled_trace)} >= EXPECTED - {START},
        )
        spans = receiver.of(scheduled_trace)
        ids = {span.span_id for span in spans}
        roots = [span for span in spans if span.parent_id not in ids]
        assert [(root.name, root.parent_id) for root in roots] == [("RunWorkflow:JobRun", "")]
        assert {span.trace_id for span in receiver.of_workflow(first["id"])} == {scheduled_trace}
        assert scheduled_trace in {
            call.headers["traceparent"].split("-")[1] for call in agent_server.calls("/agent")
        }

        # Reads (all the polling above) start no trace of their own; a caller's sampled
        # traceparent is continued. Spans leave in order, so once the traced read's has
        # arrived, any earlier read's would have too.
        reader = "0af7651916cd43dd8448eb211c80319c"
        parent = {"traceparent": f"00-{reader}-b7ad6b7169203331-01"}
        assert httpx.get(f"{dev.api}{JOBS}", headers={**headers, **parent}).status_code == 200
        until("the traced read's span", lambda: receiver.of(reader))
        assert [span.name for span in receiver.of(reader)] == ["GET /api/scheduler/jobs"]
        with receiver.lock:
            reads = [span for span in receiver.spans if span.name.startswith("GET ")]
        assert {span.trace_id for span in reads} == {reader}

        # No local activity made a span, in either run (each run has two, or three with a
        # budget): they are bookkeeping, and cost runs/s.
        with receiver.lock:
            local = [s.name for s in receiver.spans if s.name.split(":")[-1] in LOCAL_ACTIVITIES]
        assert local == []

        # Histories that traced runs left replay with the tracing interceptor and without it,
        # and so do the recorded ones.
        asyncio.run(replay_with_and_without_tracing(dev.temporal, [run_id, first["id"]]))
    # The JSON log line of the refused attempt names the run and its trace.
    lines = [
        json.loads(line) for line in dev.stderr.read_text().splitlines() if line.startswith("{")
    ]
    refused = [line for line in lines if "failed on attempt 1" in line["message"]]
    assert refused and refused[0]["run_id"] == run_id and refused[0]["trace_id"] == trace_id


async def replay_with_and_without_tracing(temporal: str, workflow_ids: list[str]) -> None:
    client = await Client.connect(temporal, data_converter=pydantic_data_converter)
    fresh = [await client.get_workflow_handle(w).fetch_history() for w in workflow_ids]
    recorded = [
        WorkflowHistory.from_json(path.stem, path.read_text())
        for path in sorted(HISTORIES.rglob("*.json"))
    ]
    assert len(recorded) > 10, "no recorded histories under tests/histories"
    for interceptors in ([RunTracingInterceptor(always_create_workflow_spans=True)], []):
        replayer = Replayer(
            workflows=WORKFLOWS, data_converter=pydantic_data_converter, interceptors=interceptors
        )
        for history in [*fresh, *recorded]:
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            assert result.replay_failure is None, (history.workflow_id, interceptors)


# The spans of a triggered run: the request, the client's start, the workflow, its activities,
# the agent's HTTP call and the workflow's end (exported last: once it is in, the run's other
# spans are too). A scheduled run has all but the client's start.
START = "StartWorkflow:JobRun"
EXPECTED = {
    START,
    "RunWorkflow:JobRun",
    "StartActivity:call_agent",
    "RunActivity:call_agent",
    "POST",
    "CompleteWorkflow:JobRun",
}
# The run's local activities, which make no spans.
LOCAL_ACTIVITIES = {RECORD_RUN_START, CHECK_RUN_BUDGET, RECORD_RUN_FINISH}
