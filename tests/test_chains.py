"""Chains: the DAG rules, the API, and chain runs on real Temporal (docs/api.md, "Chains")."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from temporalio.api.enums.v1 import EventType, PendingWorkflowTaskState
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer, Worker

from api.core.index.db import sync_url
from api.core.settings import Settings
from domain.chains import (
    ChainEdge,
    ChainGraph,
    chain_outcome,
    check_graph,
    edge_satisfied,
    find_cycle,
    next_steps,
    node_run_id,
)
from domain.limits import MAX_OUTPUT_CHARS
from tests.helpers.api import JOBS, Api, create, eventually, wait_finished
from tests.helpers.processes import doomed_worker
from tests.helpers.servers import Reply, ScriptedServer
from worker import WORKFLOWS, running_worker

CHAINS = "/api/scheduler/chains"
# Named <workflow id>.json: the chain's child ids derive from its workflow id, so a replay needs
# the real one (the job-run histories next door are replayed under their file names).
HISTORIES = Path(__file__).parent / "histories" / "chain"
AGENTS = ("fetch", "transform", "store", "a", "b", "c", "d")
OK = Reply(200, {"output": "ok"})
FAIL = Reply(400, {"error": "refused"})


def edge(src: str, dst: str, kind: str = "on_success") -> ChainEdge:
    return ChainEdge.model_validate({"from": src, "to": dst, "type": kind})


EXAMPLE = ChainGraph(
    jobs=["fetch", "transform", "store"],
    edges=[
        edge("fetch", "transform"),
        edge("transform", "store"),
        edge("fetch", "store", "on_failure"),
    ],
)
DIAMOND = ChainGraph(
    jobs=["a", "b", "c", "d"],
    edges=[edge("a", "b"), edge("a", "c"), edge("b", "d"), edge("c", "d")],
)


# The rules, without Temporal.


def test_edge_types_follow_the_spec() -> None:
    assert edge_satisfied("on_success", "completed")
    assert not edge_satisfied("on_success", "failed")
    for failed in ("failed", "timed_out", "cancelled"):
        assert edge_satisfied("on_failure", failed) and edge_satisfied("on_complete", failed)
        assert not edge_satisfied("on_success", failed)
    assert not edge_satisfied("on_failure", "completed")
    assert edge_satisfied("on_complete", "completed")
    for kind in ("on_success", "on_failure", "on_complete"):
        assert not edge_satisfied(kind, "skipped")


def test_example_chain_resolves_each_case() -> None:
    assert next_steps(EXAMPLE, {}, []) == (["fetch"], [])
    assert next_steps(EXAMPLE, {}, ["fetch"]) == ([], [])
    # fetch ok → transform; transform ok → store.
    assert next_steps(EXAMPLE, {"fetch": "completed"}, []) == (["transform"], [])
    assert next_steps(EXAMPLE, {"fetch": "completed", "transform": "completed"}, []) == (
        ["store"],
        [],
    )
    # fetch fails → transform skipped and, in the same step, store runs (on_failure).
    assert next_steps(EXAMPLE, {"fetch": "failed"}, []) == (["store"], ["transform"])
    # fetch ok, transform fails → store skipped.
    assert next_steps(EXAMPLE, {"fetch": "completed", "transform": "failed"}, []) == (
        [],
        ["store"],
    )


def test_a_node_waits_for_every_upstream_node() -> None:
    assert next_steps(DIAMOND, {"a": "completed"}, []) == (["b", "c"], [])
    assert next_steps(DIAMOND, {"a": "completed", "b": "completed"}, ["c"]) == ([], [])
    # One satisfied edge is enough.
    assert next_steps(DIAMOND, {"a": "completed", "b": "failed", "c": "completed"}, []) == (
        ["d"],
        [],
    )
    # Skips cascade: a skipped node satisfies no edge.
    assert next_steps(DIAMOND, {"a": "failed"}, []) == ([], ["b", "c", "d"])


def test_a_node_that_was_skipped_by_its_condition_satisfies_nothing() -> None:
    assert next_steps(DIAMOND, {"a": "skipped"}, []) == ([], ["b", "c", "d"])


def test_chain_fails_only_on_an_unhandled_failure() -> None:
    assert chain_outcome(
        EXAMPLE, {"fetch": "failed", "transform": "skipped", "store": "completed"}
    ) == (
        "completed",
        None,
    )
    status, error = chain_outcome(
        EXAMPLE, {"fetch": "completed", "transform": "failed", "store": "skipped"}
    )
    assert status == "failed" and error is not None and "transform" in error
    assert chain_outcome(DIAMOND, dict.fromkeys("abcd", "completed")) == ("completed", None)
    assert (
        chain_outcome(
            DIAMOND, {"a": "completed", "b": "timed_out", "c": "completed", "d": "completed"}
        )[0]
        == "failed"
    )


def test_graph_checks_name_every_problem() -> None:
    cycle = [edge("a", "b"), edge("b", "c"), edge("c", "a")]
    assert find_cycle(["a", "b", "c"], cycle) == ["a", "b", "c", "a"]
    assert find_cycle(["a", "b", "c", "d"], DIAMOND.edges) is None
    assert find_cycle(["a"], [edge("a", "a")]) == ["a", "a"]

    problems = check_graph(["a", "b", "c"], cycle)
    assert [p.field for p in problems] == ["edges"]
    assert "a → b → c → a" in problems[0].message

    problems = check_graph(
        ["a", "b", "a"],
        [edge("a", "b"), edge("a", "b"), edge("a", "zz"), edge("a", "b", "on_failure")],
    )
    assert {p.field: p.message for p in problems} == {
        "jobs.2": "job a listed twice",
        "edges.1": "duplicate edge a → b (on_success)",
        "edges.2.to": "job zz is not one of the chain's jobs",
    }
    assert check_graph(["a", "b", "c", "d"], DIAMOND.edges) == []
    assert DIAMOND.roots() == ["a"] and EXAMPLE.roots() == ["fetch"]


# The API and chain runs on real Temporal.


@pytest.fixture
def settings(settings: Settings, agent_server: ScriptedServer, tmp_path: Path) -> Settings:
    path = tmp_path / "agents.toml"
    path.write_text(
        "".join(
            f'[agents.{name}]\nkind = "http"\nurl = "{agent_server.url}/{name}"\n\n'
            for name in AGENTS
        )
    )
    settings.agents_file = path
    return settings


async def make_jobs(api: Api, headers: dict[str, str], *names: str) -> dict[str, str]:
    """One paused job per agent name (paused: only chains run them); name → job id."""
    jobs = {}
    for name in names:
        job = await create(api, headers, name=name, goal=f"do {name}", agent_id=name, enabled=False)
        jobs[name] = job["id"]
    return jobs


async def make_chain(
    api: Api, headers: dict[str, str], jobs: dict[str, str], graph: ChainGraph
) -> dict[str, Any]:
    body = {
        "name": "pipeline",
        "jobs": [jobs[name] for name in graph.jobs],
        "edges": [{"from": jobs[e.from_], "to": jobs[e.to], "type": e.type} for e in graph.edges],
    }
    response = await api.http.post(CHAINS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def trigger_chain(api: Api, headers: dict[str, str], chain_id: str) -> str:
    response = await api.http.post(f"{CHAINS}/{chain_id}/trigger", headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["chain_id"] == chain_id
    return str(response.json()["run_id"])


async def wait_chain_run(
    api: Api, headers: dict[str, str], chain_id: str, run_id: str, *, timeout: float = 30
) -> dict[str, Any]:
    """Poll the API until the chain run has finished."""
    return await wait_finished(api, headers, f"{CHAINS}/{chain_id}/runs/{run_id}", timeout=timeout)


def node_statuses(run: dict[str, Any], jobs: dict[str, str]) -> dict[str, str]:
    by_job = {n["job_id"]: n["status"] for n in run["nodes"]}
    return {name: by_job[job_id] for name, job_id in jobs.items()}


async def job_runs(api: Api, headers: dict[str, str], job_id: str) -> list[dict[str, Any]]:
    response = await api.http.get(f"{JOBS}/{job_id}/runs", headers=headers)
    assert response.status_code == 200
    return list(response.json()["runs"])


async def test_spec_example_chain_follows_its_edges_in_all_three_cases(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    alice = await api.headers("alice")
    jobs = await make_jobs(api, alice, "fetch", "transform", "store")
    chain = await make_chain(api, alice, jobs, EXAMPLE)
    assert chain["id"].startswith("chain_") and chain["roots"] == [jobs["fetch"]]
    assert chain["nodes"] == [{"job_id": j, "status": None, "run_id": None} for j in jobs.values()]

    # 1. fetch ok, transform ok → store runs once.
    agent_server.script("/fetch", Reply(200, {"output": "rows", "data": {"n": 3}}))
    agent_server.script("/transform", Reply(200, {"output": "clean", "data": {"m": 2}}))
    agent_server.script("/store", OK)
    first_id = await trigger_chain(api, alice, chain["id"])
    first = await wait_chain_run(api, alice, chain["id"], first_id)
    assert first["status"] == "completed" and first["trigger"] == "manual"
    assert node_statuses(first, jobs) == dict.fromkeys(jobs, "completed")
    assert [len(agent_server.calls(f"/{n}")) for n in jobs] == [1, 1, 1]
    transform_call = agent_server.calls("/transform")[0].body
    assert transform_call["context"]["chain_id"] == chain["id"]
    assert transform_call["context"]["upstream"][jobs["fetch"]]["output"] == "rows"
    assert transform_call["context"]["upstream"][jobs["fetch"]]["data"] == {"n": 3}
    store_upstream = agent_server.calls("/store")[0].body["context"]["upstream"]
    assert store_upstream[jobs["transform"]]["output"] == "clean"
    assert store_upstream[jobs["transform"]]["data"] == {"m": 2}
    for name, job_id in jobs.items():
        (run,) = await job_runs(api, alice, job_id)
        assert run["trigger"] == "chain" and run["chain_id"] == chain["id"], name
        assert run["status"] == "completed"
        node = next(n for n in first["nodes"] if n["job_id"] == job_id)
        assert node["run_id"] == run["id"] == run["temporal"]["workflow_id"]

    # 2. fetch fails → transform skipped, store runs once (on_failure).
    agent_server.seen.clear()
    agent_server.script("/fetch", FAIL)
    second_id = await trigger_chain(api, alice, chain["id"])
    second = await wait_chain_run(api, alice, chain["id"], second_id)
    assert node_statuses(second, jobs) == {
        "fetch": "failed",
        "transform": "skipped",
        "store": "completed",
    }
    assert second["status"] == "completed"  # the on_failure edge handles fetch's failure
    assert [len(agent_server.calls(f"/{n}")) for n in jobs] == [1, 0, 1]
    skipped = next(n for n in second["nodes"] if n["job_id"] == jobs["transform"])
    assert skipped["run_id"] is None
    assert len(await job_runs(api, alice, jobs["transform"])) == 1

    # 3. fetch ok, transform fails → store skipped; the chain failed.
    agent_server.seen.clear()
    agent_server.script("/fetch", OK)
    agent_server.script("/transform", FAIL)
    third_id = await trigger_chain(api, alice, chain["id"])
    third = await wait_chain_run(api, alice, chain["id"], third_id)
    assert node_statuses(third, jobs) == {
        "fetch": "completed",
        "transform": "failed",
        "store": "skipped",
    }
    assert third["status"] == "failed" and jobs["transform"] in third["error"]
    assert [len(agent_server.calls(f"/{n}")) for n in jobs] == [1, 1, 0]

    runs = (await api.http.get(f"{CHAINS}/{chain['id']}/runs", headers=alice)).json()
    assert runs["count"] == 3 and [r["id"] for r in runs["runs"]] == [third_id, second_id, first_id]
    failed = (
        await api.http.get(f"{CHAINS}/{chain['id']}/runs?status=failed", headers=alice)
    ).json()
    assert [r["id"] for r in failed["runs"]] == [third_id]
    shown = (await api.http.get(f"{CHAINS}/{chain['id']}", headers=alice)).json()
    assert [r["id"] for r in shown["last_runs"]] == [third_id, second_id, first_id]
    assert shown["nodes"] == third["nodes"]
    assert third["temporal_ui_url"].endswith(f"/workflows/{third_id}")


async def test_diamond_runs_both_branches_in_parallel_and_the_join_once(
    api: Api, worker: Worker, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    for name in ("a", "d"):
        agent_server.script(f"/{name}", Reply(200, {"output": name}))
    for name in ("b", "c"):
        agent_server.script(f"/{name}", Reply(200, {"output": name, "data": {name: 1}}, delay=2))
    alice = await api.headers("alice")
    jobs = await make_jobs(api, alice, "a", "b", "c", "d")
    chain = await make_chain(api, alice, jobs, DIAMOND)
    run = await wait_chain_run(
        api, alice, chain["id"], await trigger_chain(api, alice, chain["id"])
    )

    assert run["status"] == "completed"
    assert node_statuses(run, jobs) == dict.fromkeys(jobs, "completed")
    (b,), (c,), (d,) = (agent_server.calls(f"/{n}") for n in "bcd")
    # Each branch takes 2 s: C started while B was still running, and the other way round.
    assert abs(b.at - c.at) < 1.5
    assert d.at >= max(b.at, c.at) + 2
    assert set(d.body["context"]["upstream"]) == {jobs["b"], jobs["c"]}
    assert d.body["context"]["upstream"][jobs["c"]]["data"] == {"c": 1}
    assert len(await job_runs(api, alice, jobs["d"])) == 1
    # The Temporal UI shows each node's run as a child of the chain run.
    for node in run["nodes"]:
        child = await temporal_client.get_workflow_handle(node["run_id"]).describe()
        assert child.parent_id == run["id"], node


async def test_a_join_gets_its_upstream_outputs_within_one_outputs_budget(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    # Three outputs of the longest a run keeps would not fit in one input (Temporal's 2 MB
    # payload limit): each gets a third.
    branches = ("b", "c", "d")
    for name in branches:
        agent_server.script(f"/{name}", Reply(200, {"output": name * MAX_OUTPUT_CHARS}))
    agent_server.script("/a", OK)
    agent_server.script("/store", OK)
    alice = await api.headers("alice")
    jobs = await make_jobs(api, alice, "a", *branches, "store")
    graph = ChainGraph(
        jobs=["a", *branches, "store"],
        edges=[edge("a", name) for name in branches] + [edge(name, "store") for name in branches],
    )
    chain = await make_chain(api, alice, jobs, graph)
    run = await wait_chain_run(
        api, alice, chain["id"], await trigger_chain(api, alice, chain["id"])
    )

    assert run["status"] == "completed"
    assert node_statuses(run, jobs) == dict.fromkeys(jobs, "completed")
    [call] = agent_server.calls("/store")
    upstream = call.body["context"]["upstream"]
    for name in branches:
        output = upstream[jobs[name]]["output"]
        assert len(output) == MAX_OUTPUT_CHARS // 3
        assert output.startswith(name * 300_000)
        assert output.endswith("answered 1,000,000 characters; this keeps the first 333,333)")
    # The runs themselves keep their whole outputs.
    assert (await job_runs(api, alice, jobs["b"]))[0]["output"] == "b" * MAX_OUTPUT_CHARS


async def test_on_complete_follows_success_and_failure(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    alice = await api.headers("alice")
    jobs = await make_jobs(api, alice, "a", "b")
    graph = ChainGraph(jobs=["a", "b"], edges=[edge("a", "b", "on_complete")])
    chain = await make_chain(api, alice, jobs, graph)
    agent_server.script("/b", OK)
    for reply, outcome in ((OK, "completed"), (FAIL, "failed")):
        agent_server.script("/a", reply)
        run = await wait_chain_run(
            api, alice, chain["id"], await trigger_chain(api, alice, chain["id"])
        )
        assert node_statuses(run, jobs) == {"a": outcome, "b": "completed"}
        assert run["status"] == "completed"
        upstream = agent_server.calls("/b")[-1].body["context"]["upstream"]
        assert upstream[jobs["a"]]["status"] == outcome
    assert len(agent_server.calls("/b")) == 2


async def test_chain_validation_ownership_and_deletion(api: Api) -> None:
    alice = await api.headers("alice")
    mallory = await api.headers("mallory")
    jobs = await make_jobs(api, alice, "a", "b", "c")
    a, b, c = jobs.values()

    async def post(body: dict[str, Any], headers: dict[str, str] = alice) -> Any:
        return await api.http.post(CHAINS, json={"name": "x", **body}, headers=headers)

    cyclic = await post(
        {
            "jobs": [a, b, c],
            "edges": [
                {"from": a, "to": b, "type": "on_success"},
                {"from": b, "to": c, "type": "on_failure"},
                {"from": c, "to": a, "type": "on_complete"},
            ],
        }
    )
    assert cyclic.status_code == 422 and cyclic.json()["error"] == "validation_error"
    assert f"{a} → {b} → {c} → {a}" in cyclic.json()["message"]
    assert cyclic.json()["details"][0]["field"] == "edges"

    bad_type = await post({"jobs": [a, b], "edges": [{"from": a, "to": b, "type": "on_maybe"}]})
    assert bad_type.status_code == 422
    assert bad_type.json()["details"][0]["field"] == "edges.0.type"
    unlisted = await post({"jobs": [a], "edges": [{"from": a, "to": b, "type": "on_success"}]})
    assert unlisted.status_code == 422
    assert unlisted.json()["details"] == [
        {"field": "edges.0.to", "message": f"job {b} is not one of the chain's jobs"}
    ]
    twice = {"from": a, "to": b, "type": "on_success"}
    duplicate = await post({"jobs": [a, b], "edges": [twice, twice]})
    assert duplicate.status_code == 422 and duplicate.json()["details"][0]["field"] == "edges.1"
    missing = await post({"jobs": [a, "job_nope"]})
    assert missing.status_code == 422
    assert missing.json()["details"] == [{"field": "jobs.1", "message": "job job_nope not found"}]
    # Another owner's jobs are as good as missing.
    theirs = await post({"jobs": [a]}, headers=mallory)
    assert theirs.status_code == 422 and theirs.json()["details"][0]["field"] == "jobs.0"
    assert (await post({"jobs": []})).status_code == 422
    assert (await post({"jobs": [a], "extra": 1})).status_code == 422

    chain = (await post({"jobs": [a, b], "edges": [twice]})).json()
    assert chain["edges"] == [twice] and chain["roots"] == [a]
    listed = (await api.http.get(CHAINS, headers=alice)).json()
    assert listed["count"] == 1 and listed["chains"][0]["id"] == chain["id"]
    assert (await api.http.get(CHAINS, headers=mallory)).json() == {"chains": [], "count": 0}
    for method, path in (
        ("GET", f"{CHAINS}/{chain['id']}"),
        ("GET", f"{CHAINS}/{chain['id']}/runs"),
        ("POST", f"{CHAINS}/{chain['id']}/trigger"),
        ("DELETE", f"{CHAINS}/{chain['id']}"),
    ):
        assert (await api.http.request(method, path, headers=mallory)).status_code == 404
    assert (await api.http.get(CHAINS)).status_code == 401

    used = await api.http.delete(f"{JOBS}/{a}", headers=alice)
    assert used.status_code == 409 and used.json()["error"] == "conflict"
    assert chain["id"] in used.json()["message"]
    assert (await api.http.get(f"{JOBS}/{a}", headers=alice)).status_code == 200
    assert (await api.http.delete(f"{JOBS}/{c}", headers=alice)).status_code == 204

    assert (await api.http.delete(f"{CHAINS}/{chain['id']}", headers=alice)).status_code == 204
    assert (await api.http.get(f"{CHAINS}/{chain['id']}", headers=alice)).status_code == 404
    assert (await api.http.delete(f"{JOBS}/{a}", headers=alice)).status_code == 204


async def test_root_job_runs_continue_into_the_chain(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script("/b", OK)
    alice = await api.headers("alice")
    root = await create(
        api, alice, name="root", goal='{"rows": 7}', schedule={"type": "every", "interval": 2}
    )
    (follower,) = (await make_jobs(api, alice, "b")).values()
    jobs = {"root": root["id"], "b": follower}
    chain = await make_chain(
        api, alice, jobs, ChainGraph(jobs=["root", "b"], edges=[edge("root", "b")])
    )

    deadline = time.monotonic() + 20
    adopted: list[dict[str, Any]] = []
    while not adopted and time.monotonic() < deadline:
        runs = (await api.http.get(f"{CHAINS}/{chain['id']}/runs", headers=alice)).json()["runs"]
        adopted = [r for r in runs if r["status"] != "running"]
        await asyncio.sleep(0.2)
    assert (await api.http.post(f"{JOBS}/{root['id']}/pause", headers=alice)).status_code == 200
    assert adopted, "no scheduled run of the root continued into the chain"
    scheduled = adopted[-1]
    assert scheduled["trigger"] == "root_run" and scheduled["status"] == "completed"
    root_run = (
        await api.http.get(f"{JOBS}/{root['id']}/runs/{scheduled['root_run_id']}", headers=alice)
    ).json()
    assert root_run["trigger"] == "schedule" and root_run["chain_id"] is None
    assert node_statuses(scheduled, jobs) == {"root": "completed", "b": "completed"}
    nodes = {n["job_id"]: n for n in scheduled["nodes"]}
    assert nodes[root["id"]]["run_id"] == root_run["id"]
    follower_run = (
        await api.http.get(f"{JOBS}/{follower}/runs/{nodes[follower]['run_id']}", headers=alice)
    ).json()
    assert follower_run["trigger"] == "chain" and follower_run["chain_id"] == chain["id"]
    call = next(c for c in agent_server.calls("/b") if c.body["run_id"] == follower_run["id"])
    assert call.body["context"]["upstream"][root["id"]]["data"] == {"rows": 7}

    # A triggered (manual) run of the root continues too, and only into this chain run.
    response = await api.http.post(f"{JOBS}/{root['id']}/trigger", headers=alice)
    manual_id = response.json()["run_id"]
    deadline = time.monotonic() + 20
    manual: list[dict[str, Any]] = []
    while not manual and time.monotonic() < deadline:
        runs = (await api.http.get(f"{CHAINS}/{chain['id']}/runs", headers=alice)).json()["runs"]
        manual = [r for r in runs if r["root_run_id"] == manual_id and r["status"] != "running"]
        await asyncio.sleep(0.2)
    assert manual and manual[0]["status"] == "completed"
    # The chain never ran the root itself: every root run is a standalone one.
    assert {r["trigger"] for r in await job_runs(api, alice, root["id"])} <= {"schedule", "manual"}
    chain_runs = (await api.http.get(f"{CHAINS}/{chain['id']}/runs", headers=alice)).json()
    root_run_ids = [r["root_run_id"] for r in chain_runs["runs"]]
    assert len(root_run_ids) == len(set(root_run_ids))  # one chain run per root run


async def test_cancelling_a_chain_run_cancels_its_running_nodes(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script("/a", Reply(200, {"output": "late"}, delay=-1))
    agent_server.script("/b", OK)
    alice = await api.headers("alice")
    jobs = await make_jobs(api, alice, "a", "b")
    chain = await make_chain(api, alice, jobs, ChainGraph(jobs=["a", "b"], edges=[edge("a", "b")]))
    run_id = await trigger_chain(api, alice, chain["id"])
    await agent_server.wait_for_call("/a")

    path = f"{CHAINS}/{chain['id']}/runs/{run_id}/cancel"
    assert (await api.http.post(path, headers=alice)).status_code == 202
    run = await wait_chain_run(api, alice, chain["id"], run_id, timeout=10)
    assert run["status"] == "cancelled"
    assert node_statuses(run, jobs) == {"a": "cancelled", "b": "skipped"}
    (a_run,) = await job_runs(api, alice, jobs["a"])
    assert a_run["status"] == "cancelled"
    assert agent_server.calls("/b") == []
    assert (await api.http.post(path, headers=alice)).status_code == 409

    # Deleting a chain cancels its running runs too.
    second_id = await trigger_chain(api, alice, chain["id"])
    deadline = time.monotonic() + 20
    while len(agent_server.calls("/a")) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert (await api.http.delete(f"{CHAINS}/{chain['id']}", headers=alice)).status_code == 204
    deadline = time.monotonic() + 10
    runs = await job_runs(api, alice, jobs["a"])
    while any(r["status"] == "running" for r in runs) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        runs = await job_runs(api, alice, jobs["a"])
    assert [r["status"] for r in runs] == ["cancelled", "cancelled"]
    assert {r["chain_id"] for r in runs} == {chain["id"]}
    assert second_id not in {r["id"] for r in runs}  # job runs, not chain runs
    assert agent_server.calls("/b") == []


async def test_killed_worker_mid_chain_loses_no_node_and_runs_none_twice(
    api: Api, settings: Settings, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    agent_server.script("/a", OK)
    agent_server.script(
        "/b", Reply(200, {"output": "never"}, delay=-1), Reply(200, {"output": "second worker"})
    )
    agent_server.script("/c", OK)
    async with doomed_worker(settings):
        alice = await api.headers("alice")
        jobs = await make_jobs(api, alice, "a", "b", "c")
        graph = ChainGraph(jobs=["a", "b", "c"], edges=[edge("a", "b"), edge("b", "c")])
        chain = await make_chain(api, alice, jobs, graph)
        run_id = await trigger_chain(api, alice, chain["id"])
        await agent_server.wait_for_call("/b")

    async with running_worker(temporal_client, settings):
        run = await wait_chain_run(api, alice, chain["id"], run_id, timeout=60)

    assert run["status"] == "completed"
    assert node_statuses(run, jobs) == dict.fromkeys(jobs, "completed")
    assert [len(agent_server.calls(f"/{n}")) for n in jobs] == [1, 2, 1]
    b_calls = agent_server.calls("/b")
    assert b_calls[0].body["run_id"] == b_calls[1].body["run_id"]  # the same run, resumed
    for job_id in jobs.values():
        (job_run,) = await job_runs(api, alice, job_id)
        assert job_run["status"] == "completed" and job_run["attempts"] == 1


HOLD = "test_hold_chain_progress"


def hold_chain_progress(url: str, *, held: bool) -> None:
    """Make every update of a chain run fail (``held``), or stop doing so.

    A chain workflow that cannot record its progress cannot start its next node either: the
    child's start goes to Temporal with the workflow task, after the task's local activities
    (or with the task's heartbeat, some 8 s on: ample time to kill the worker first).
    """
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    postgres = engine.dialect.name == "postgresql"
    try:
        with engine.begin() as conn:
            if not postgres:
                conn.exec_driver_sql("PRAGMA busy_timeout=10000")
            if held and postgres:
                conn.exec_driver_sql(
                    f"CREATE FUNCTION {HOLD}() RETURNS trigger LANGUAGE plpgsql"
                    " AS $$ BEGIN RAISE EXCEPTION 'held by the test'; END $$"
                )
                conn.exec_driver_sql(
                    f"CREATE TRIGGER {HOLD} BEFORE UPDATE ON chain_runs"
                    f" FOR EACH ROW EXECUTE FUNCTION {HOLD}()"
                )
            elif held:
                conn.exec_driver_sql(
                    f"CREATE TRIGGER {HOLD} BEFORE UPDATE ON chain_runs"
                    " BEGIN SELECT RAISE(ABORT, 'held by the test'); END"
                )
            elif postgres:
                conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {HOLD}() CASCADE")
            else:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {HOLD}")
    finally:
        engine.dispose()


async def test_killed_worker_between_nodes_loses_no_node_and_runs_none_twice(
    api: Api, settings: Settings, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    """The worker dies after a's run ended and before b started: b and c run once, later."""
    agent_server.script("/a", Reply(200, {"output": "from a"}, delay=-1))
    agent_server.script("/b", Reply(200, {"output": "from b", "data": {"b": 1}}))
    agent_server.script("/c", OK)
    url = settings.resolved_database_url
    try:
        async with doomed_worker(settings):
            alice = await api.headers("alice")
            jobs = await make_jobs(api, alice, "a", "b", "c")
            graph = ChainGraph(jobs=["a", "b", "c"], edges=[edge("a", "b"), edge("b", "c")])
            chain = await make_chain(api, alice, jobs, graph)
            run_id = await trigger_chain(api, alice, chain["id"])
            chain_run = temporal_client.get_workflow_handle(run_id)

            await agent_server.wait_for_call("/a")
            # a's start is recorded already (a's child started after it); from here on the chain
            # workflow cannot record b's start, so it cannot start b.
            await asyncio.to_thread(hold_chain_progress, url, held=True)
            agent_server.release.set()

            async def a_completed() -> bool:
                return [r["status"] for r in await job_runs(api, alice, jobs["a"])] == ["completed"]

            async def chain_on_a_result() -> bool:
                history = await chain_run.fetch_history()
                done = EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED
                task = (await chain_run.describe()).raw_description.pending_workflow_task
                return any(e.event_type == done for e in history.events) and (
                    task.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED
                )

            await eventually(a_completed, "node a's run completed in the API")
            # The doomed worker holds the chain's workflow task that took in a's result.
            await eventually(chain_on_a_result, "the chain taking in a's result")
            assert agent_server.calls("/b") == [] and await job_runs(api, alice, jobs["b"]) == []
            with pytest.raises(RPCError) as not_started:
                await temporal_client.get_workflow_handle(node_run_id(run_id, jobs["b"])).describe()
            assert not_started.value.status == RPCStatusCode.NOT_FOUND
    finally:
        await asyncio.to_thread(hold_chain_progress, url, held=False)

    async with running_worker(temporal_client, settings):
        run = await wait_chain_run(api, alice, chain["id"], run_id, timeout=60)

    assert run["status"] == "completed"
    assert node_statuses(run, jobs) == dict.fromkeys(jobs, "completed")
    assert [len(agent_server.calls(f"/{n}")) for n in jobs] == [1, 1, 1]
    nodes = {n["job_id"]: n for n in run["nodes"]}
    for name, job_id in jobs.items():
        (job_run,) = await job_runs(api, alice, job_id)
        assert job_run["trigger"] == "chain" and job_run["chain_id"] == chain["id"], name
        assert job_run["status"] == "completed" and job_run["attempts"] == 1, name
        assert nodes[job_id]["run_id"] == job_run["id"] == node_run_id(run_id, job_id), name
    (b_call,) = agent_server.calls("/b")
    assert b_call.body["context"]["upstream"][jobs["a"]]["output"] == "from a"
    (c_call,) = agent_server.calls("/c")
    upstream = c_call.body["context"]["upstream"]
    assert set(upstream) == {jobs["b"]}
    assert upstream[jobs["b"]]["output"] == "from b" and upstream[jobs["b"]]["data"] == {"b": 1}
    assert upstream[jobs["b"]]["run_id"] == nodes[jobs["b"]]["run_id"]


async def test_chain_workflow_replays_recorded_and_fresh_histories(
    api: Api, worker: Worker, agent_server: ScriptedServer, temporal_client: Client
) -> None:
    """A change to the chain workflow that would break running histories fails here."""
    alice = await api.headers("alice")
    agent_server.script("/fetch", FAIL)
    agent_server.script("/store", OK)
    agent_server.script("/a", Reply(200, {"output": "late"}, delay=-1))
    example_jobs = await make_jobs(api, alice, "fetch", "transform", "store")
    example = await make_chain(api, alice, example_jobs, EXAMPLE)
    hanging_jobs = await make_jobs(api, alice, "a", "b")
    hanging = await make_chain(
        api, alice, hanging_jobs, ChainGraph(jobs=["a", "b"], edges=[edge("a", "b")])
    )
    run_ids = {
        "example": await trigger_chain(api, alice, example["id"]),
        "cancelled": await trigger_chain(api, alice, hanging["id"]),
    }
    await wait_chain_run(api, alice, example["id"], run_ids["example"])
    await agent_server.wait_for_call("/a")
    await api.http.post(
        f"{CHAINS}/{hanging['id']}/runs/{run_ids['cancelled']}/cancel", headers=alice
    )
    await wait_chain_run(api, alice, hanging["id"], run_ids["cancelled"])

    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    fresh = {
        name: await temporal_client.get_workflow_handle(run_id).fetch_history()
        for name, run_id in run_ids.items()
    }
    if os.environ.get("AGENT_SCHEDULER_RECORD_HISTORIES"):
        HISTORIES.mkdir(exist_ok=True)
        for old in HISTORIES.glob("*.json"):
            old.unlink()
        for history in fresh.values():
            (HISTORIES / f"{history.workflow_id}.json").write_text(history.to_json())
    recorded = [
        WorkflowHistory.from_json(path.stem, path.read_text())
        for path in sorted(HISTORIES.glob("*.json"))
    ]
    assert len(recorded) == 2, "no recorded chain histories under tests/histories"
    for history in [*fresh.values(), *recorded]:
        result = await replayer.replay_workflow(history)
        assert result.replay_failure is None
