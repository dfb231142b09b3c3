"""Hooks (docs/api.md, "Hooks"): a delivery signed as GitHub signs it, or carrying the hook's
secret, runs the job with its body as the agent's ``input``; a delivery id seen before answers
the same run, however many arrive at once. On SQLite and PostgreSQL, like every index test."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.worker import Worker

from api.core.settings import Settings
from api.services.hooks import authentic
from tests.helpers.api import JOBS, Api, create, wait_run
from tests.helpers.servers import Reply, ScriptedServer

HOOKS = "/api/scheduler/hooks"


@pytest.fixture
def settings(settings: Settings, agent_server: ScriptedServer, tmp_path: Path) -> Settings:
    """An ``http`` agent ``web`` played by ``agent_server``, to see what it is sent."""
    settings.agents_file = tmp_path / "agents.toml"
    settings.agents_file.write_text(
        f'[agents.web]\nkind = "http"\nurl = "{agent_server.url}/web"\n'
    )
    return settings


def signed(secret: str, body: bytes) -> dict[str, str]:
    """GitHub's signature header of ``body``, computed here as a sender would."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


async def new_hook(api: Api, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    response = await api.http.post(f"{JOBS}/{job_id}/hooks", headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def path_of(hook: dict[str, Any]) -> str:
    return httpx.URL(hook["url"]).path


async def test_a_signed_delivery_runs_the_job_with_its_body_as_input(
    api: Api, worker: Worker, agent_server: ScriptedServer
) -> None:
    agent_server.script("/web", Reply(200, {"output": "seen"}))
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="web")
    hook = await new_hook(api, alice, job["id"])
    assert hook["url"] == f"http://test/api/scheduler/hooks/{hook['id']}"
    assert hook["secret"].startswith("hks_") and hook["job_id"] == job["id"]
    listed = await api.http.get(f"{JOBS}/{job['id']}/hooks", headers=alice)
    assert listed.json()["count"] == 1 and listed.json()["hooks"][0]["url"] == hook["url"]
    assert hook["secret"] not in listed.text

    event = {"action": "opened", "pull_request": {"number": 7, "title": "Fix é"}}
    body = json.dumps(event).encode()
    wrong = await api.http.post(path_of(hook), content=body, headers=signed("hks_other", body))
    assert wrong.status_code == 401 and wrong.json()["error"] == "unauthorized", wrong.text
    unsigned = await api.http.post(path_of(hook), content=body)
    assert unsigned.status_code == 401
    # An API key of the owner is no hook secret.
    assert (await api.http.post(path_of(hook), content=body, headers=alice)).status_code == 401

    accepted = await api.http.post(
        path_of(hook), content=body, headers=signed(hook["secret"], body)
    )
    assert accepted.status_code == 202, accepted.text
    run_id = accepted.json()["run_id"]
    assert accepted.json()["run_url"] == f"http://test{JOBS}/{job['id']}/runs/{run_id}"
    run = await wait_run(api, alice, job["id"], run_id)
    assert run["status"] == "completed" and run["trigger"] == "hook", run
    assert run["input"] == event and run["output"] == "seen"
    assert agent_server.calls("/web")[0].body["input"] == event

    # The secret as a bearer token, and a body that is not JSON: its text is the input.
    bearer = {"Authorization": f"Bearer {hook['secret']}", "Content-Type": "text/plain"}
    text = await api.http.post(path_of(hook), content=b"deploy finished", headers=bearer)
    assert text.status_code == 202, text.text
    run = await wait_run(api, alice, job["id"], text.json()["run_id"])
    assert run["input"] == "deploy finished" and run["trigger"] == "hook"
    assert agent_server.calls("/web")[1].body["input"] == "deploy finished"

    # A redelivery (GitHub's delivery id) answers the run the first delivery started.
    github = {**signed(hook["secret"], body), "X-GitHub-Delivery": "72d3162e-cc78"}
    first = await api.http.post(path_of(hook), content=body, headers=github)
    again = await api.http.post(path_of(hook), content=body, headers=github)
    assert (first.status_code, again.status_code) == (202, 200), (first.text, again.text)
    assert again.json()["run_id"] == first.json()["run_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    await wait_run(api, alice, job["id"], first.json()["run_id"])
    runs = await api.http.get(f"{JOBS}/{job['id']}/runs", headers=alice)
    assert runs.json()["count"] == 3


async def test_fifty_concurrent_deliveries_of_one_id_start_one_run(api: Api) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice)
    hook = await new_hook(api, alice, job["id"])
    body = b'{"ref": "refs/heads/main"}'
    headers = {**signed(hook["secret"], body), "X-Delivery-Id": "delivery-1"}
    answers = await asyncio.gather(
        *(api.http.post(path_of(hook), content=body, headers=headers) for _ in range(50))
    )
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [200] * 49 + [202], [a.text for a in answers if a.status_code >= 300]
    assert len({answer.json()["run_id"] for answer in answers}) == 1
    runs = await api.http.get(f"{JOBS}/{job['id']}/runs", headers=alice)
    assert runs.json()["count"] == 1, runs.text
    assert runs.json()["runs"][0]["input"] == {"ref": "refs/heads/main"}


async def test_deliveries_refused_and_hooks_kept_to_their_owner(api: Api) -> None:
    alice, bob = await api.headers("alice"), await api.headers("bob")
    job = await create(api, alice)
    hook = await new_hook(api, alice, job["id"])
    small = b"{}"
    good = signed(hook["secret"], small)

    unknown = await api.http.post(f"{HOOKS}/hk_nosuchhook", content=small, headers=good)
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"

    big = json.dumps({"blob": "x" * (256 * 1024)}).encode()
    too_big = await api.http.post(path_of(hook), content=big, headers=signed(hook["secret"], big))
    assert too_big.status_code == 413 and too_big.json()["error"] == "payload_too_large"

    bad_id = {**good, "X-Delivery-Id": " spaced "}
    refused = await api.http.post(path_of(hook), content=small, headers=bad_id)
    assert refused.status_code == 422, refused.text

    assert (await api.http.post(f"{JOBS}/{job['id']}/pause", headers=alice)).status_code == 200
    paused = await api.http.post(path_of(hook), content=small, headers=good)
    assert paused.status_code == 409 and "paused" in paused.json()["message"]

    # A key that may not start runs may not make what starts them.
    agent = await api.headers("alice", limits={"no_trigger": True})
    forbidden = await api.http.post(f"{JOBS}/{job['id']}/hooks", headers=agent)
    assert forbidden.status_code == 403 and "no_trigger" in forbidden.json()["message"]

    # A body streamed without a Content-Length is cut off as soon as it passes the limit.
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(300):
            yield b"x" * 1024

    streamed = await api.http.post(path_of(hook), content=chunks(), headers=good)
    assert streamed.status_code == 413

    # Bob sees none of it and deletes nothing.
    assert (await api.http.get(f"{JOBS}/{job['id']}/hooks", headers=bob)).status_code == 404
    assert (await api.http.post(f"{JOBS}/{job['id']}/hooks", headers=bob)).status_code == 404
    hook_url = f"{HOOKS}/{hook['id']}"
    assert (await api.http.delete(hook_url, headers=bob)).status_code == 404
    assert (await api.http.delete(hook_url, headers=alice)).status_code == 204
    gone = await api.http.post(path_of(hook), content=small, headers=good)
    assert gone.status_code == 404

    # Deleting a job deletes its hooks.
    other = await new_hook(api, alice, job["id"])
    assert (await api.http.delete(f"{JOBS}/{job['id']}", headers=alice)).status_code == 204
    after = await api.http.post(
        path_of(other), content=small, headers=signed(other["secret"], small)
    )
    assert after.status_code == 404


def test_githubs_own_example_delivery_is_authentic() -> None:
    """The example of GitHub's "Validating webhook deliveries" page, under either header."""
    secret, body = "It's a Secret to Everybody", b"Hello, World!"
    digest = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    for header in ("X-Hub-Signature-256", "X-Signature-256"):
        assert authentic(secret, body, {header: f"sha256={digest}"})
        assert not authentic(secret, body + b"!", {header: f"sha256={digest}"})
    assert not authentic(secret, body, {"X-Signature-256": digest})  # no scheme
    assert authentic(secret, body, {"authorization": f"Bearer {secret}"})
    assert not authentic(secret, body, {"authorization": f"Basic {secret}"})
