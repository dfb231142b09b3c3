"""The dev outbox (docs/api.md, "Delivery"): in `dev`, deliveries to a provider the server has no
settings for are kept, rendered per channel, instead of refused; outside it the 422 names the
setting."""

from __future__ import annotations

import pytest
from temporalio.worker import Worker

from api.core.settings import Settings
from tests.helpers.api import JOBS, Api, create, job_body, trigger, wait_run

OUTBOX = "/api/scheduler/delivery/outbox"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.dev_outbox = True
    settings.slack_token = None
    settings.smtp_host = None
    return settings


async def test_dev_keeps_a_slack_delivery_in_the_outbox_rendered_as_slack_would_get_it(
    api: Api, worker: Worker
) -> None:
    alice, bob = await api.headers("alice"), await api.headers("bob")
    job = await create(
        api,
        alice,
        name="Price alert",
        goal="BTC moved **7 %** <today>, see [chart](https://example.com/c?a=1&b=2)",
        delivery={"channel": "slack:#alerts", "format": "markdown"},
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["delivery"]["status"] == "delivered", run["delivery"]
    assert run["delivery"]["outbox"] is True and run["delivery"]["messages"] == 1

    page = (await api.http.get(OUTBOX, headers=alice)).json()
    assert page["enabled"] is True and page["count"] == 1
    [kept] = page["messages"]
    assert kept["run_id"] == run["id"] and kept["job_id"] == job["id"]
    assert kept["channel"] == "slack:#alerts" and kept["provider"] == "slack"
    assert kept["delivery_id"] == f"{run['id']}/delivery"
    # Slack mrkdwn, as chat.postMessage would have received it: bold with one *, the reserved
    # characters escaped, the link in Slack's <url|text> form.
    [text] = kept["content"]["texts"]
    assert "*Price alert*" in text and "*7 %*" in text and "&lt;today&gt;" in text
    assert "<https://example.com/c?a=1&amp;b=2|chart>" in text
    assert kept["content"]["mrkdwn"] is True

    # Another owner's outbox does not show it.
    other = (await api.http.get(OUTBOX, headers=bob)).json()
    assert other == {"enabled": True, "messages": [], "count": 0}


async def test_dev_keeps_an_email_with_its_subject_text_and_html(api: Api, worker: Worker) -> None:
    alice = await api.headers("alice")
    job = await create(
        api,
        alice,
        name="Digest",
        goal="# Today\n\n- one\n- two <script>x</script>",
        delivery={"channel": "email:ops@example.com"},
    )
    run = await wait_run(api, alice, job["id"], await trigger(api, alice, job["id"]))
    assert run["delivery"]["status"] == "delivered" and run["delivery"]["outbox"] is True
    [kept] = (await api.http.get(OUTBOX, headers=alice)).json()["messages"]
    content = kept["content"]
    assert kept["provider"] == "email"
    assert content["to"] == "ops@example.com" and content["subject"] == "Digest (completed)"
    assert "<h1>Today</h1>" in content["html"] and "<li>one</li>" in content["html"]
    assert "<script>" not in content["html"] and "&lt;script&gt;" in content["html"]
    assert content["text"].startswith("**Digest**")


async def test_outbox_pages_newest_first(api: Api, worker: Worker) -> None:
    alice = await api.headers("alice")
    job = await create(api, alice, delivery={"channel": "slack:#ops", "format": "text"})
    runs = [await trigger(api, alice, job["id"]) for _ in range(3)]
    for run_id in runs:
        await wait_run(api, alice, job["id"], run_id)
    first = (await api.http.get(OUTBOX, params={"limit": 2}, headers=alice)).json()
    second = (await api.http.get(OUTBOX, params={"limit": 2, "offset": 2}, headers=alice)).json()
    assert first["count"] == second["count"] == 3
    listed = [m["run_id"] for m in first["messages"] + second["messages"]]
    assert sorted(listed) == sorted(runs) and len(set(listed)) == 3
    times = [m["created_at"] for m in first["messages"] + second["messages"]]
    assert times == sorted(times, reverse=True)
    response = await api.http.get(OUTBOX, params={"limit": 0}, headers=alice)
    assert response.status_code == 422
    assert (await api.http.get(OUTBOX)).status_code == 401


async def test_outside_dev_the_error_names_the_setting_to_set(api: Api, settings: Settings) -> None:
    settings.dev_outbox = False
    alice = await api.headers("alice")
    for channel, setting in (
        ("slack:#ops", "AGENT_SCHEDULER_SLACK_TOKEN"),
        ("email:ops@example.com", "AGENT_SCHEDULER_SMTP_HOST"),
    ):
        body = job_body(delivery={"channel": channel})
        response = await api.http.post(JOBS, json=body, headers=alice)
        assert response.status_code == 422, response.text
        [detail] = response.json()["details"]
        assert detail["field"] == "delivery.channel" and setting in detail["message"]
    page = (await api.http.get(OUTBOX, headers=alice)).json()
    assert page == {"enabled": False, "messages": [], "count": 0}
