"""What metrics and traces cost: runs/s and the API floor with both on, against both off.

    .venv/bin/python bench/observability.py [--runs 300] [--rounds 3] [--concurrency 30]

One Temporal dev server and one OTLP/HTTP sink (a loopback server that takes every span
batch) serve every round. Each round runs the two sides one after the other, each in a fresh
process (tracing is process-wide), with our stack as ``bench/runs.py`` builds it: the API over
ASGI, a worker, a SQLite index. A side measures triggered echo runs/s, then the p50 of the
authenticated floor (``GET /agents``, which only checks the key). "On" sets
``OTEL_EXPORTER_OTLP_ENDPOINT`` to the sink and serves both metrics pages; "sampled" is "on"
keeping one trace in ten (``OTEL_TRACES_SAMPLER=parentbased_traceidratio``, ``…_ARG=0.1``);
"metrics" serves the metrics pages only and "traces" exports every trace only, to tell the two
costs apart; "off" does neither. Each side also reports the CPU seconds its process and the
Temporal server used while it ran (start-up, runs and floor), to tell whose work grew.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.core.settings import Settings
from api.core.temporal import build_temporal_client, packaged_binary
from bench.load import processes, tree_cpu
from bench.runs import ours
from domain import search_attributes

FLOOR_REQUESTS = 1000


SIDES = ("off", "on", "sampled", "metrics", "traces")
TRACED = ("on", "sampled", "traces")  # the sides exporting traces
SERVING_METRICS = ("on", "sampled", "metrics")  # the sides serving both metrics pages
SAMPLED = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}


async def side(address: str, runs: int, concurrency: int, metrics: bool) -> dict[str, float]:
    """One side in this process: runs/s, then the floor's p50 in ms."""
    client = await build_temporal_client(Settings(temporal_address=address))
    ports = {"metrics_port": 0, "worker_metrics_port": 0} if metrics else {}
    with tempfile.TemporaryDirectory() as data:
        async with ours(client, address, Path(data), concurrency, None, True, **ports) as stack:
            await stack.measure(30)  # warm-up
            rate = await stack.measure(runs)
            for _ in range(100):  # warm-up
                await stack.http.get("/api/scheduler/agents", headers=stack.headers)
            took = []
            for _ in range(FLOOR_REQUESTS):
                began = time.perf_counter()
                answer = await stack.http.get("/api/scheduler/agents", headers=stack.headers)
                took.append(time.perf_counter() - began)
                assert answer.status_code == 200
    return {"runs_per_s": rate, "floor_p50_ms": statistics.median(took) * 1000}


class Sink(BaseHTTPRequestHandler):
    """Takes OTLP/HTTP exports and counts their bytes."""

    received = 0

    def do_POST(self) -> None:
        Sink.received += len(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def temporal_pid() -> int:
    """The dev server this process started (its child whose command is ``temporal``)."""
    for pid, (parent, _) in processes().items():
        if parent != os.getpid():
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if Path(command.decode()).name == "temporal":
            return pid
    raise RuntimeError("no Temporal dev server among this process's children")


def run_side(
    address: str, sink: str, args: argparse.Namespace, name: str, server: int
) -> dict[str, float]:
    """One side in a fresh process: its measures, and the CPU seconds it and the Temporal
    server (pid ``server``) used meanwhile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_SCHEDULER_"))}
    if name in TRACED:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink
    if name == "sampled":
        env |= SAMPLED
    argv = [sys.executable, __file__, "--side", name, "--address", address]
    argv += ["--runs", str(args.runs), "--concurrency", str(args.concurrency)]
    children, temporal = resource.getrusage(resource.RUSAGE_CHILDREN), tree_cpu(server)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {name} side failed:\n{done.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    result["side_cpu_s"] = (after.ru_utime + after.ru_stime) - (
        children.ru_utime + children.ru_stime
    )
    result["temporal_cpu_s"] = tree_cpu(server) - temporal
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300, help="runs per side and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians win")
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument(
        "--sides", default=",".join(SIDES), help="which sides to compare with off, e.g. on,traces"
    )
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        metrics = args.side in SERVING_METRICS
        print(json.dumps(await side(args.address, args.runs, args.concurrency, metrics)))
        return
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=packaged_binary("temporal"),
        search_attributes=search_attributes.ALL,
        data_converter=pydantic_data_converter,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sink = f"http://127.0.0.1:{server.server_address[1]}"
    server_pid = temporal_pid()
    sides = ("off", *(name for name in args.sides.split(",") if name in SIDES[1:]))
    results: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
    try:
        address = env.client.service_client.config.target_host
        for round_ in range(args.rounds):
            # Rotate which side goes first, so drift does not favour one.
            first = round_ % len(sides)
            for name in sides[first:] + sides[:first]:
                results[name].append(
                    await asyncio.to_thread(run_side, address, sink, args, name, server_pid)
                )
    finally:
        server.shutdown()
        await env.shutdown()
    print(
        f"runs={args.runs} x {args.rounds} rounds, concurrency={args.concurrency}, "
        f"floor: {FLOOR_REQUESTS} x GET /agents; OTLP sink took {Sink.received:,} bytes"
    )
    for key, label, better in (
        ("runs_per_s", "runs/s", "higher"),
        ("floor_p50_ms", "floor p50 ms", "lower"),
        ("side_cpu_s", "our CPU s", "lower"),
        ("temporal_cpu_s", "Temporal CPU s", "lower"),
    ):
        off = statistics.median(r[key] for r in results["off"])
        line = f"{label:<13} off {off:8.2f}"
        for name in sides[1:]:
            mine = statistics.median(r[key] for r in results[name])
            ratios = sorted(
                r[key] / o[key] for r, o in zip(results[name], results["off"], strict=True)
            )
            line += (
                f" | {name} {mine:8.2f} ({mine / off:5.3f}; rounds "
                + ", ".join(f"{x:.3f}" for x in ratios)
                + ")"
            )
        print(line + f"  [{better} is better]")


if __name__ == "__main__":
    asyncio.run(main())
