"""Delivery end to end: Slack, webhooks, e-mail on loopback servers; redelivery (docs/api.md,
"Delivery")."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import os
import ssl
import threading
import time
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Replayer, Worker

from activities.delivery import DeliveryActivities
from api.core.index.db import make_engine, migrate
from api.core.settings import Settings
from domain.contract.delivery import DeliverInput, DeliveryRun, redeliver_workflow_id
from domain.render import CUT_NOTE, EMAIL_MAX_CHARS
from tests.helpers.api import JOBS, Api, create, eventually, job_body, trigger, wait_run
from tests.helpers.histories import HISTORIES
from tests.helpers.mail import Mailbox, smtp_server, with_channels
from tests.helpers.processes import doomed_worker
from tests.helpers.servers import Reply, ScriptedServer, serve
from worker import WORKFLOWS, running_worker

SLACK = "/api/chat.postMessage"
OK = Reply(200, {"ok": True, "ts": "1700000000.000100"})


@pytest.fixture
def slack() -> Iterator[ScriptedServer]:
    yield from serve()


@pytest.fixture
def agent() -> Iterator[ScriptedServer]:
    yield from serve()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server() as served:
        yield served


def server_tls(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    """A server-side TLS context with a certificate for ``names`` issued by ``ca``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@pytest.fixture
def private_ca(settings: Settings, tmp_path: Path) -> trustme.CA:
    """A CA of our own, trusted through ``smtp_ca_file``."""
    ca = trustme.CA()
    settings.smtp_ca_file = tmp_path / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(settings.smtp_ca_file))
    return ca


@pytest.fixture
def settings(
    settings: Settings,
    slack: ScriptedServer,
    agent: ScriptedServer,
    mailbox: tuple[Mailbox, int],
    tmp_path: Path,
) -> Settings:
    return with_channels(
        settings,
        agent_url=agent.url,
        slack_url=slack.url,
        smtp_port=mailbox[1],
        agents=tmp_path / "agents.toml",
    )


async def wait_delivery(
    api: Api, headers: dict[str, str], job_id: str, run_id: str, status: str
) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        run = (await api.http.get(f"{JOBS}/{job_id}/runs/{run_id}", headers=headers)).json()
        if (run.get("delivery") or {}).get("status") == status:
            return dict(run)
        assert time.monotonic() < deadline, f"delivery never {status}: {run}"
        await asyncio.sleep(0.1)


async def test_condition_gates_slack_delivery(
    api: Api, worker: Worker, slack: ScriptedServer
) -> None:
    slack.script(SLACK, OK)
    alice = await api.headers("alice")
    condition = {"expression": "price_change_pct > 0.05"}
    delivery = {"channel": "slack:#alerts", "format": "markdown"}
    hot = await create(
        api,
        alice,
        name="Price watch",
        goal='{"price_change_pct": 0.07}',
        condition=condition,
        delivery=delivery,
    )
    run = await wait_run(api, alice, hot["id"], await trigger(api, alice, hot["id"]))
    assert run["status"] == "completed"
    assert run["condition_result"] == {
        "expression": "price_change_pct > 0.05",
        "stage": "after_run",
        "value": True,
        "error": None,
    }
    assert run["delivery"]["status"] == "delivered" and run["delivery"]["error"] is None
    assert run["delivery"]["channel"] == "slack:#alerts"
    [call] = slack.calls(SLACK)
    assert call.headers["Authorization"] == "Bearer xoxb-test-token"
    assert call.body["channel"] == "#alerts" and call.body["mrkdwn"] is True
    assert call.body["text"].startswith("*Price watch*")
    assert "price_change_pct" in call.body["text"]

    calm = await create(
        api, alice, goal='{"price_change_pct": 0.01}', condition=condition, delivery=delivery
    )
    run = await wait_run(api, alice, calm["id"], await trigger(api, alice, calm["id"]))
    assert run["status"] == "completed"
    assert run["condition_result"]["value"] is False and run["condition_result"]["error"] is None
    assert run["delivery"]["status"] == "skipped"
    assert run["delivery"]["reason"] == "the after_run condition was false"
    assert len(slack.calls(SLACK)) == 1


async def test_markdown_output_reaches_slack_as_mrkdwn(
    api: Api, worker: Worker, slack: ScriptedServer, agent: ScriptedServer
) -> None:
    output = (
        "# Prices\n\n"
        "**BTC** is up _7%_ & ETH < 1%\n\n"
        "- [chart](https://example.com/c?a=1&b=2)\n"
        "- `x > y`\n\n"
        "> ~~sell~~ hold\n\n"
        "```\nif a < b: buy()\n```"
    )
    agent.script("/agent", Reply(200, {"output": output, "data": {}}))
    slack.script(SLACK, OK)
    alice = await api.headers("alice")
    job = await create(
        api,
        alice,
        name="Market <daily>",
        agent_id="web",
        delivery={"channel": "slack:#markets", "format": "markdown"},
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["output"] == output
    assert run["delivery"]["status"] == "delivered" and run["delivery"]["messages"] == 1
    [call] = slack.calls(SLACK)
    assert call.body["channel"] == "#markets" and call.body["mrkdwn"] is True
    assert call.body["text"] == (
        "*Market &lt;daily&gt;*\n\n"
        "*Prices*\n\n"
        "*BTC* is up _7%_ &amp; ETH &lt; 1%\n\n"
        "• <https://example.com/c?a=1&amp;b=2|chart>\n"
        "• `x &gt; y`\n\n"
        "> ~sell~ hold\n\n"
        "```\nif a &lt; b: buy()\n```"
    )


async def test_before_run_false_skips_the_agent(
    api: Api, worker: Worker, agent: ScriptedServer
) -> None:
    agent.script("/agent", Reply(200, {"output": "first", "data": {"go": False}}))
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="web")
    first = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert first["status"] == "completed" and len(agent.calls("/agent")) == 1

    gate = {"expression": "go == true and now.hour >= 0", "stage": "before_run"}
    response = await api.http.put(f"{JOBS}/{job['id']}", json={"condition": gate}, headers=alice)
    assert response.status_code == 200
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "skipped" and run["attempts"] == 0 and run["output"] is None
    assert run["condition_result"] == {
        "expression": gate["expression"],
        "stage": "before_run",
        "value": False,
        "error": None,
    }
    assert len(agent.calls("/agent")) == 1, "a skipped run called the agent"

    # Skipped runs do not count as "previous": the gate still sees the first run.
    reopen = {"expression": "last_run.status == 'completed' and not go", "stage": "before_run"}
    await api.http.put(f"{JOBS}/{job['id']}", json={"condition": reopen}, headers=alice)
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["status"] == "completed" and run["condition_result"]["value"] is True
    assert len(agent.calls("/agent")) == 2
    job_now = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()
    assert job_now["run_count"] == 3 and job_now["consecutive_failures"] == 0


class WebhookReceiver:
    """A loopback receiver that keeps the raw body, to verify the signature byte for byte."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    try:
        yield hook
    finally:
        hook.httpd.shutdown()
        hook.httpd.server_close()


async def test_webhook_delivery_is_signed_with_the_owner_secret(
    api: Api, worker: Worker, receiver: WebhookReceiver
) -> None:
    alice = await api.headers("alice")
    secret = (await api.http.get("/api/scheduler/delivery/webhook-secret", headers=alice)).json()
    bob = await api.headers("bob")
    other = (await api.http.get("/api/scheduler/delivery/webhook-secret", headers=bob)).json()
    assert secret["secret"].startswith("whsec_") and secret["secret"] != other["secret"]

    job = await create(
        api,
        alice,
        goal='{"price_change_pct": 0.07}',
        delivery={"channel": f"webhook:{receiver.url}", "format": "json"},
    )
    run_id = await trigger(api, alice, job["id"])
    run = await wait_run(api, alice, job["id"], run_id)
    assert run["delivery"]["status"] == "delivered"
    [(headers, body)] = receiver.requests
    timestamp = headers["X-Agent-Scheduler-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    expected = hmac.new(
        secret["secret"].encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(headers["X-Agent-Scheduler-Signature"], f"sha256={expected}")
    forged = hmac.new(other["secret"].encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert headers["X-Agent-Scheduler-Signature"] != f"sha256={forged.hexdigest()}"
    assert headers["X-Agent-Scheduler-Delivery"] == f"{run_id}/delivery"
    document = json.loads(body)
    assert document["run"]["run_id"] == run_id and document["run"]["status"] == "completed"
    assert document["run"]["data"] == {"price_change_pct": 0.07}
    assert "owner" not in document["run"]


async def test_notification_library_provider_delivers_under_its_own_prefix(
    api: Api, worker: Worker, receiver: WebhookReceiver
) -> None:
    """Any other provider goes through Apprise: here its generic JSON service, on loopback."""
    alice = await api.headers("alice")
    target = receiver.url.removeprefix("http://")
    job = await create(
        api,
        alice,
        name="Prices",
        goal="BTC is **up** 7%",
        delivery={"channel": f"json:{target}", "format": "text"},
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))

    assert run["delivery"]["status"] == "delivered", run["delivery"]
    [(headers, body)] = receiver.requests
    assert headers["Content-Type"].startswith("application/json")
    document = json.loads(body)
    assert "BTC is **up** 7%" in document["message"] and "Prices" in document["title"]


async def email_digest(api: Api, **job: Any) -> dict[str, Any]:
    """Create a job e-mailing ops@example.com, trigger it and return the finished run."""
    alice = await api.headers("alice")
    body = {
        "name": "Digest",
        "goal": "# Today\n\nPrices are **up** <script>x</script>",
        "delivery": {"channel": "email:ops@example.com", "format": "markdown"},
        **job,
    }
    created = await create(api, alice, **body)
    return await wait_run(api, alice, created["id"], await trigger(api, alice, created["id"]))


def email_bodies(message: Message) -> tuple[str, str]:
    """The decoded plain-text and HTML parts of a ``multipart/alternative`` e-mail."""
    assert message.get_content_type() == "multipart/alternative"
    types = {part.get_content_type(): part for part in message.walk()}
    text, page = (types[kind].get_payload(decode=True) for kind in ("text/plain", "text/html"))
    assert isinstance(text, bytes) and isinstance(page, bytes)
    # Both came over SMTP with CRLF line ends.
    return text.decode().replace("\r\n", "\n"), page.decode().replace("\r\n", "\n")


def assert_digest(box: Mailbox) -> None:
    [(recipients, message)] = box.messages
    assert recipients == ["ops@example.com"]
    assert message["Subject"] == "Digest (completed)"
    text, page = email_bodies(message)
    assert "Prices are **up**" in text
    assert "<h1>Today</h1>" in page and "<strong>up</strong>" in page
    assert "<script>" not in page and "&lt;script&gt;" in page


async def test_email_arrives_with_html_and_text_parts(
    api: Api, worker: Worker, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    run = await email_digest(api)
    assert run["delivery"]["status"] == "delivered"
    assert_digest(box)
    assert box.tls == [(None, False)]


async def test_email_over_starttls_verifies_the_private_ca(
    api: Api, worker: Worker, settings: Settings, private_ca: trustme.CA
) -> None:
    tls = server_tls(private_ca, "127.0.0.1", "localhost")
    with smtp_server(tls_context=tls, require_starttls=True) as (box, port):
        settings.smtp_port, settings.smtp_starttls = port, True
        run = await email_digest(api)
    assert run["delivery"]["status"] == "delivered", run["delivery"]
    assert_digest(box)
    [(version, starttls)] = box.tls
    assert version in ("TLSv1.2", "TLSv1.3") and starttls


async def test_email_over_implicit_tls_verifies_the_private_ca(
    api: Api, worker: Worker, settings: Settings, private_ca: trustme.CA
) -> None:
    tls = server_tls(private_ca, "127.0.0.1", "localhost")
    with smtp_server(ssl_context=tls) as (box, port):
        settings.smtp_port, settings.smtp_ssl = port, True
        run = await email_digest(api)
    assert run["delivery"]["status"] == "delivered", run["delivery"]
    assert_digest(box)
    [(version, starttls)] = box.tls
    assert version in ("TLSv1.2", "TLSv1.3") and not starttls


@pytest.mark.parametrize(
    ("mode", "issuer", "names", "reason"),
    [
        # No SMTP_CA_FILE: the system's CAs do not know a private CA.
        ("starttls", "unknown", ("127.0.0.1", "localhost"), "unable to get local issuer"),
        ("ssl", "other", ("127.0.0.1", "localhost"), "unable to get local issuer"),
        # The trusted CA, but for another host: host names are checked too.
        ("ssl", "trusted", ("mail.example.com",), "mismatch"),
    ],
)
async def test_email_to_an_untrusted_certificate_fails_at_once(
    api: Api,
    worker: Worker,
    settings: Settings,
    private_ca: trustme.CA,
    mode: str,
    issuer: str,
    names: tuple[str, ...],
    reason: str,
) -> None:
    if issuer == "unknown":
        settings.smtp_ca_file = None
    tls = server_tls(private_ca if issuer == "trusted" else trustme.CA(), *names)
    served = (
        smtp_server(tls_context=tls, require_starttls=True)
        if mode == "starttls"
        else smtp_server(ssl_context=tls)
    )
    with served as (box, port):
        settings.smtp_port, settings.smtp_starttls, settings.smtp_ssl = port, True, mode == "ssl"
        started = time.monotonic()
        run = await email_digest(api)
    assert run["status"] == "completed"
    assert run["delivery"]["status"] == "failed"
    assert "SMTP server certificate not trusted" in run["delivery"]["error"]
    assert reason in run["delivery"]["error"] and "SMTP_CA_FILE" in run["delivery"]["error"]
    assert time.monotonic() - started < 20, "a certificate failure is not retried"
    assert box.messages == []


async def test_long_email_is_cut_and_says_so(
    api: Api, worker: Worker, agent: ScriptedServer, mailbox: tuple[Mailbox, int]
) -> None:
    box, _ = mailbox
    output = "".join(f"line {n:07d} of a long report\n" for n in range(66_667))
    assert len(output) > 2_000_000
    agent.script("/agent", Reply(200, {"output": output, "data": {}}))
    run = await email_digest(api, agent_id="web")
    assert run["status"] == "completed" and run["output"].startswith(output[:900_000])
    assert run["delivery"]["status"] == "delivered", run["delivery"]
    assert run["delivery"]["truncated"] is True
    [(_, message)] = box.messages
    text, page = email_bodies(message)
    text = text.removesuffix("\n")  # set_content ends the part with a newline
    assert len(text) == EMAIL_MAX_CHARS and text.endswith(CUT_NOTE)
    assert text.startswith("**Digest**\n\nline 0000000 of a long report\n")
    assert CUT_NOTE.strip() in page and "line 0066666" not in page


async def test_slack_500_twice_then_200_posts_exactly_once(
    api: Api, worker: Worker, slack: ScriptedServer, agent: ScriptedServer
) -> None:
    agent.script("/agent", Reply(200, {"output": "hello", "data": {}}))
    slack.script(SLACK, Reply(500, {"ok": False}), Reply(500, {"ok": False}), OK)
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="web", delivery={"channel": "slack:#ops", "format": "text"}
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["delivery"]["status"] == "delivered" and run["delivery"]["messages"] == 1
    await asyncio.sleep(1.5)  # nothing else arrives later
    calls = slack.calls(SLACK)
    assert len(calls) == 3 and all(c.body == calls[0].body for c in calls)
    assert calls[2].at - calls[1].at >= 1.5  # the delivery retry policy backs off
    assert len(agent.calls("/agent")) == 1 and run["attempts"] == 1


async def test_failed_delivery_keeps_the_run_and_redeliver_retries_only_delivery(
    api: Api,
    worker: Worker,
    slack: ScriptedServer,
    agent: ScriptedServer,
    temporal_client: Client,
) -> None:
    agent.script("/agent", Reply(200, {"output": "x" * 9000, "data": {"n": 1}}))
    slack.script(SLACK, Reply(200, {"ok": False, "error": "channel_not_found"}))
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="web", delivery={"channel": "slack:#gone", "format": "text"}
    )
    run_id = await trigger(api, alice, job["id"])
    run = await wait_run(api, alice, job["id"], run_id)
    assert run["status"] == "completed" and run["output"] == "x" * 9000
    assert run["delivery"]["status"] == "failed"
    assert "channel_not_found" in run["delivery"]["error"]
    assert len(slack.calls(SLACK)) == 1  # a refusal is not retried

    slack.seen.clear()
    slack.script(SLACK, OK)
    await api.http.put(
        f"{JOBS}/{job['id']}",
        json={"delivery": {"channel": "slack:#ops", "format": "text"}},
        headers=alice,
    )
    path = f"{JOBS}/{job['id']}/runs/{run_id}/redeliver"
    response = await api.http.post(path, headers=alice)
    assert response.status_code == 202, response.text
    assert response.json() == {"run_id": run_id, "job_id": job["id"], "status": "redelivering"}
    run = await wait_delivery(api, alice, job["id"], run_id, "delivered")
    assert run["delivery"]["redelivered"] is True and run["delivery"]["channel"] == "slack:#ops"
    # 9,000 characters: split into a channel message and thread replies.
    calls = slack.calls(SLACK)
    assert len(calls) == run["delivery"]["messages"] >= 3
    assert "thread_ts" not in calls[0].body
    assert all(c.body["thread_ts"] == "1700000000.000100" for c in calls[1:])
    assert "".join(c.body["text"] for c in calls).count("x") >= 9000
    assert len(agent.calls("/agent")) == 1, "redelivery called the agent"

    mallory = await api.headers("mallory")
    assert (await api.http.post(path, headers=mallory)).status_code == 404

    # Both workflows replay; AGENT_SCHEDULER_RECORD_HISTORIES keeps them for future replays.
    replayer = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
    histories = {
        "job_run_delivery_failed": await temporal_client.get_workflow_handle(
            run_id
        ).fetch_history(),
        "redeliver": await temporal_client.get_workflow_handle(
            redeliver_workflow_id(run_id)
        ).fetch_history(),
    }
    for name, history in histories.items():
        await replayer.replay_workflow(history)
        if os.environ.get("AGENT_SCHEDULER_RECORD_HISTORIES"):
            (HISTORIES / f"{name}.json").write_text(history.to_json())


async def test_redeliver_refuses_runs_with_nothing_to_deliver(api: Api, worker: Worker) -> None:
    alice = await api.headers("alice")
    job = await create(
        api,
        alice,
        goal='{"n": 1}',
        condition={"expression": "n > 5"},
        delivery={"channel": "slack:#ops"},
    )
    run_id = await trigger(api, alice, job["id"])
    await wait_run(api, alice, job["id"], run_id)
    response = await api.http.post(f"{JOBS}/{job['id']}/runs/{run_id}/redeliver", headers=alice)
    assert response.status_code == 409 and "condition was false" in response.json()["message"]


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("carrier-pigeon:coop", "unknown provider"),
        ("slack:general chat", "slack target"),
        ("slack:#Has-Caps", "slack target"),
        ("webhook:ftp://example.com/x", "https"),
        ("webhook:not a url", "https"),
        ("webhook:https://example.com/\nx", "control characters"),
        ("email:not-an-address", "plain address"),
        ("email:Ops <ops@example.com>", "plain address"),
        ("discord:", "provider"),
        ("dbus:", "provider"),
        ("nochannel", "provider"),
    ],
)
async def test_malformed_channels_are_422(api: Api, channel: str, message: str) -> None:
    alice = await api.headers("alice")
    body = job_body(delivery={"channel": channel})
    response = await api.http.post(JOBS, json=body, headers=alice)
    assert response.status_code == 422, response.text
    detail = response.json()["details"][0]
    assert detail["field"] == "delivery.channel" and message in detail["message"]


async def test_update_with_a_malformed_channel_is_422_and_changes_nothing(api: Api) -> None:
    alice = await api.headers("alice")
    delivery = {"channel": "slack:#ops", "format": "text"}
    job = await create(api, alice, delivery=delivery)
    url = f"{JOBS}/{job['id']}"
    for channel, message in (("carrier-pigeon:coop", "unknown provider"), ("slack:a b", "slack")):
        response = await api.http.put(
            url, json={"name": "renamed", "delivery": {"channel": channel}}, headers=alice
        )
        assert response.status_code == 422, response.text
        detail = response.json()["details"][0]
        assert detail["field"] == "delivery.channel" and message in detail["message"]
    after = (await api.http.get(url, headers=alice)).json()
    assert after["delivery"] == job["delivery"]
    assert after["delivery"]["channel"] == "slack:#ops" and after["delivery"]["format"] == "text"
    assert after["name"] == job["name"] and after["updated_at"] == job["updated_at"]


async def test_private_targets_need_the_setting(api: Api, settings: Settings) -> None:
    alice = await api.headers("alice")
    settings.allow_private_targets = False
    for channel in (
        "webhook:http://example.com/hook",
        "webhook:https://127.0.0.1/hook",
        "webhook:https://localhost:8080/hook",
        "webhook:https://10.1.2.3/hook",
        "webhook:https://[::1]/hook",
        "webhook:https://169.254.169.254/latest",
        "json:127.0.0.1/x",
    ):
        body = job_body(delivery={"channel": channel})
        response = await api.http.post(JOBS, json=body, headers=alice)
        assert response.status_code == 422, (channel, response.text)
        assert response.json()["details"][0]["field"] == "delivery.channel"
    settings.slack_token = None
    response = await api.http.post(
        JOBS, json=job_body(delivery={"channel": "slack:#ops"}), headers=alice
    )
    assert response.status_code == 422, response.text
    assert "not configured" in response.text and "AGENT_SCHEDULER_SLACK_TOKEN" in response.text
    # A well-formed notification-service channel is accepted.
    response = await api.http.post(
        JOBS, json=job_body(delivery={"channel": "discord:1234567/abcdefg"}), headers=alice
    )
    assert response.status_code == 201, response.text


async def test_private_webhook_refused_again_at_delivery(
    api: Api, worker: Worker, settings: Settings, receiver: WebhookReceiver
) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, delivery={"channel": f"webhook:{receiver.url}"})
    settings.allow_private_targets = False  # turned off after the job was created
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["delivery"]["status"] == "failed"
    assert "ALLOW_PRIVATE_TARGETS" in run["delivery"]["error"]
    assert receiver.requests == []


async def test_a_slack_retry_never_posts_a_message_slack_accepted(
    api: Api, worker: Worker, slack: ScriptedServer, agent: ScriptedServer
) -> None:
    """Messages 1 and 2 of a long run go through, 3 fails once: the retry posts 3 only, even
    when the progress of 2 had not yet reached Temporal in a heartbeat (they are throttled)."""
    output = "\n".join(f"line {i:04d} " + "x" * 50 for i in range(150))  # each message differs
    agent.script("/agent", Reply(200, {"output": output, "data": {}}))
    slack.script(SLACK, OK, OK, Reply(500, {"ok": False}), OK)
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="web", delivery={"channel": "slack:#ops", "format": "text"}
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["delivery"]["status"] == "delivered", run["delivery"]
    messages = run["delivery"]["messages"]
    assert messages >= 3
    await asyncio.sleep(1.5)  # nothing else arrives later
    texts = [c.body["text"] for c in slack.calls(SLACK)]
    # One failed post (the third message), then each message exactly once.
    assert len(texts) == messages + 1, [t[:30] for t in texts]
    assert texts[2] == texts[3] and len(set(texts)) == messages


async def test_a_worker_lost_mid_slack_delivery_never_reposts_what_slack_accepted(
    api: Api,
    settings: Settings,
    slack: ScriptedServer,
    agent: ScriptedServer,
    temporal_client: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Slack accepted messages 1 and 2; the worker is SIGKILLed while 3 is in flight (so the
    heartbeat carrying "2 posted" may never have left it). The next worker, within the
    delivery's heartbeat timeout, posts from message 3 on: 1 and 2 are never posted again."""
    # The worker process reads its settings from the environment.
    monkeypatch.setenv("AGENT_SCHEDULER_SLACK_TOKEN", str(settings.slack_token))
    monkeypatch.setenv("AGENT_SCHEDULER_SLACK_API_URL", settings.slack_api_url)
    monkeypatch.setenv("AGENT_SCHEDULER_ALLOW_PRIVATE_TARGETS", "true")
    output = "\n".join(f"line {i:04d} " + "x" * 50 for i in range(150))
    agent.script("/agent", Reply(200, {"output": output, "data": {}}))
    slack.script(SLACK, OK, OK, Reply(200, {"ok": True, "ts": "1"}, delay=-1), OK)
    alice = await api.headers("alice")
    job = await create(
        api, alice, agent_id="web", delivery={"channel": "slack:#ops", "format": "text"}
    )
    async with doomed_worker(settings):
        run_id = await trigger(api, alice, job["id"])
        await eventually(lambda: _arrived(slack, 3), "the third Slack message", timeout=30)
    started = time.monotonic()
    async with running_worker(temporal_client, settings):
        run = await wait_delivery(api, alice, job["id"], run_id, "delivered")
    assert time.monotonic() - started < 25  # the heartbeat timeout, not the 5-minute one
    await asyncio.sleep(1.5)  # nothing else arrives later
    texts = [c.body["text"] for c in slack.calls(SLACK)]
    messages = run["delivery"]["messages"]
    # Message 3 twice (the first never got its answer to the worker), every other once.
    assert len(texts) == messages + 1 and texts[2] == texts[3], [t[:12] for t in texts]
    assert len(set(texts)) == messages
    assert run["status"] == "completed" and len(agent.calls("/agent")) == 1


async def _arrived(server: ScriptedServer, count: int) -> bool:
    return len(server.calls(SLACK)) >= count


@pytest.mark.parametrize("provider", ["webhook", "email"])
async def test_a_delivery_already_sent_is_not_sent_again_by_a_retry(
    settings: Settings,
    receiver: WebhookReceiver,
    mailbox: tuple[Mailbox, int],
    provider: str,
) -> None:
    """The worker that sent the delivery died before Temporal heard of it: the retry (the same
    activity, the same delivery id, a later attempt) finds it sent and sends nothing."""
    migrate(settings.resolved_database_url)
    engine = make_engine(settings.resolved_database_url)
    activities = DeliveryActivities(engine, settings)
    channel = f"webhook:{receiver.url}" if provider == "webhook" else "email:ops@example.com"
    job = DeliverInput(
        delivery_id="run_x/delivery",
        channel=channel,
        run=DeliveryRun(
            run_id="run_x",
            job_id="job_x",
            job_name="n",
            owner="alice",
            status="completed",
            output="hi",
        ),
    )
    try:
        first = await ActivityEnvironment().run(activities.deliver, job)
        retry = ActivityEnvironment()
        retry.info = dataclasses.replace(retry.info, attempt=2)
        again = await retry.run(activities.deliver, job)
        other = job.model_copy(update={"delivery_id": "run_x/redeliver/1"})
        redelivered = await ActivityEnvironment().run(activities.deliver, other)
    finally:
        await activities.aclose()
        await engine.dispose()
    assert first == again == redelivered
    sent = len(receiver.requests) if provider == "webhook" else len(mailbox[0].messages)
    assert sent == 2  # the delivery once, and the redelivery (a new delivery id) once


async def test_a_run_cancelled_while_its_delivery_retries_ends_cancelled(
    api: Api,
    worker: Worker,
    slack: ScriptedServer,
    temporal_client: Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG")
    hook = slack.script("/hook", Reply(500, {"error": "down"}))
    alice = await api.headers("alice")
    job = await create(api, alice, delivery={"channel": f"webhook:{hook}", "format": "json"})
    run_id = await trigger(api, alice, job["id"])
    await eventually(lambda: _called(slack, "/hook", 2), "two webhook attempts", timeout=20)
    response = await api.http.post(f"{JOBS}/{job['id']}/runs/{run_id}/cancel", headers=alice)
    assert response.status_code == 202, response.text
    run = await wait_run(api, alice, job["id"], run_id)
    assert run["status"] == "cancelled" and run["error"] == "run cancelled"
    assert run["output"] == "Summarize today's activity"  # the agent's answer is kept
    assert run["delivery"]["status"] == "skipped"
    description = await temporal_client.get_workflow_handle(run_id).describe()
    assert description.status == WorkflowExecutionStatus.CANCELED
    stats = (await api.http.get("/api/scheduler/stats", headers=alice)).json()
    assert stats["success_rate"] is None, stats  # a cancelled run is no success
    job_now = (await api.http.get(f"{JOBS}/{job['id']}", headers=alice)).json()
    assert job_now["consecutive_failures"] == 0 and job_now["run_count"] == 1
    history = await temporal_client.get_workflow_handle(run_id).fetch_history()
    await Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter).replay_workflow(
        history
    )
    if os.environ.get("AGENT_SCHEDULER_RECORD_HISTORIES"):
        (HISTORIES / "job_run_cancelled_in_delivery.json").write_text(history.to_json())

    # One line per failed delivery attempt, no traceback: an HTTP 500 is no bug.
    attempts = len(slack.calls("/hook"))
    lines = [r for r in caplog.records if r.name == "activities.delivery"]
    assert [r.levelname for r in lines] == ["WARNING"] * attempts
    for number, record in enumerate(lines, start=1):
        assert record.exc_info is None
        assert record.getMessage() == (
            f"delivery {run_id}/delivery of run {run_id} (webhook) failed on attempt "
            f"{number}: webhook answered HTTP 500"
        )
    assert not [
        r for r in caplog.records if r.levelno >= logging.WARNING and r.exc_info is not None
    ]


async def _called(server: ScriptedServer, path: str, count: int) -> bool:
    return len(server.calls(path)) >= count
