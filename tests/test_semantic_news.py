"""Semantic only-news (docs/api.md, "Only news"): ``delivery.only_if_changed: "semantic"``
against a real embeddings API, a real Slack stand-in and an http agent, all on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from temporalio.worker import Worker

from activities.delivery.embeddings import EmbeddingsUnavailable, embed
from api.core.settings import Settings
from domain.delivery import Delivery, cosine_similarity
from tests.helpers.api import JOBS, Api, create, job_body, trigger, wait_run
from tests.helpers.embeddings import EmbeddingsServer, serve_embeddings
from tests.helpers.servers import Reply, ScriptedServer, serve

SLACK = "/api/chat.postMessage"
OK = Reply(200, {"ok": True, "ts": "1700000000.000100"})
YEARLY = {"type": "cron", "expression": "0 8 1 1 *", "timezone": "UTC"}
SEMANTIC = {"channel": "slack:#markets", "format": "text", "only_if_changed": "semantic"}


@pytest.fixture
def slack() -> Iterator[ScriptedServer]:
    yield from serve()


@pytest.fixture
def agent() -> Iterator[ScriptedServer]:
    yield from serve()


@pytest.fixture
def embeddings() -> Iterator[EmbeddingsServer]:
    yield from serve_embeddings()


@pytest.fixture
def settings(
    settings: Settings,
    slack: ScriptedServer,
    agent: ScriptedServer,
    embeddings: EmbeddingsServer,
    tmp_path: Path,
) -> Settings:
    path = tmp_path / "agents.toml"
    path.write_text(f'[agents.web]\nkind = "http"\nurl = "{agent.url}/agent"\n')
    settings.agents_file = path
    settings.slack_token = "xoxb-test-token"
    settings.slack_api_url = slack.url + "/api"
    settings.delivery_timeout_seconds = 5
    settings.embeddings_url = embeddings.url
    settings.embeddings_model = "tiny-embed"
    settings.embeddings_api_key = "emb-key"
    settings.embeddings_timeout_seconds = 2
    return settings


def answers(agent: ScriptedServer, *outputs: str) -> None:
    """The agent answers ``outputs`` in turn (the last one repeats)."""
    agent.script("/agent", *(Reply(200, {"output": o}) for o in outputs))


async def run_once(api: Api, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    return await wait_run(api, headers, job_id, await trigger(api, headers, job_id))


def test_delivery_takes_semantic_and_a_threshold() -> None:
    delivery = Delivery.model_validate(SEMANTIC)
    assert delivery.only_if_changed == "semantic" and delivery.similarity_threshold == 0.92
    assert (
        Delivery.model_validate({**SEMANTIC, "similarity_threshold": 1}).similarity_threshold == 1
    )
    for bad in ({"only_if_changed": "fuzzy"}, {"similarity_threshold": 0}):
        with pytest.raises(ValidationError):
            Delivery.model_validate({**SEMANTIC, **bad})
    assert cosine_similarity([1, 0], [1, 0]) == pytest.approx(1.0)
    assert cosine_similarity([1, 0], [0, 1]) == 0.0
    assert cosine_similarity([0, 0], [1, 0]) == 0.0 and cosine_similarity([1], [1, 0]) == 0.0


async def test_embed_reads_the_api_and_says_why_it_cannot(embeddings: EmbeddingsServer) -> None:
    settings = Settings(embeddings_url=embeddings.url, embeddings_model="m", embeddings_api_key="k")
    async with httpx.AsyncClient() as http:
        vectors = await embed(http, settings, ["BTC up", "rain"])
        assert vectors == [[1.0, 0.0, 0.0, 0.0, 0.1], [0.0, 0.0, 1.0, 0.0, 0.1]]
        [(body, headers)] = embeddings.requests
        assert body == {"model": "m", "input": ["BTC up", "rain"]}
        assert headers["Authorization"] == "Bearer k"
        wrong = settings.model_copy(update={"embeddings_url": embeddings.url + "/nowhere"})
        with pytest.raises(EmbeddingsUnavailable, match="answered HTTP 404"):
            await embed(http, wrong, ["x"])
        with pytest.raises(EmbeddingsUnavailable, match="no embeddings API is configured"):
            await embed(http, Settings(), ["x"])
        embeddings.stop()
        with pytest.raises(EmbeddingsUnavailable, match="could not be reached"):
            await embed(http, settings, ["x"])


class TestSemanticSettings:
    """``only_if_changed: "semantic"`` and ``similarity_threshold`` on create and update."""

    async def test_bad_values_are_422s(self, api: Api, settings: Settings) -> None:
        alice = await api.headers("alice")
        job = await create(api, alice, schedule=YEARLY, delivery=SEMANTIC)
        assert job["delivery"]["only_if_changed"] == "semantic"
        assert job["delivery"]["similarity_threshold"] == 0.92
        for value in (0, -0.5, 1.01, True, "0.9"):
            delivery = {**SEMANTIC, "similarity_threshold": value}
            response = await api.http.post(JOBS, json=job_body(delivery=delivery), headers=alice)
            assert response.status_code == 422, (value, response.text)
            assert response.json()["details"][0]["field"] == "delivery.similarity_threshold"

        # Without an embeddings API "semantic" is refused, by name and with what to do.
        settings.embeddings_url = None
        response = await api.http.post(JOBS, json=job_body(delivery=SEMANTIC), headers=alice)
        assert response.status_code == 422, response.text
        [detail] = response.json()["details"]
        assert detail["field"] == "delivery.only_if_changed"
        assert "AGENT_SCHEDULER_EMBEDDINGS_URL" in detail["message"]
        update = await api.http.put(
            f"{JOBS}/{job['id']}", json={"delivery": SEMANTIC}, headers=alice
        )
        assert update.status_code == 422, update.text


async def test_a_near_duplicate_is_skipped_with_its_similarity(
    api: Api,
    worker: Worker,
    slack: ScriptedServer,
    agent: ScriptedServer,
    embeddings: EmbeddingsServer,
) -> None:
    slack.script(SLACK, OK)
    answers(agent, "BTC at 97,000", "BTC still near 97,000 today", "ETH at 3,000", "BTC 97k")
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="web", schedule=YEARLY, delivery=SEMANTIC)
    first = await run_once(api, alice, job["id"])
    assert first["delivery"]["status"] == "delivered"
    assert first["delivery"]["comparison"]["compared_runs"] == 0
    assert embeddings.requests == []  # nothing delivered before: nothing to compare

    near = await run_once(api, alice, job["id"])
    assert near["status"] == "completed" and near["delivery"]["status"] == "skipped"
    comparison = near["delivery"]["comparison"]
    assert comparison["method"] == "semantic" and comparison["matched_run_id"] == first["id"]
    assert comparison["similarity"] >= 0.92 and comparison["threshold"] == 0.92
    assert near["delivery"]["reason"].startswith("only_if_changed: the output is 1.00 similar")
    assert first["id"] in near["delivery"]["reason"]

    other = await run_once(api, alice, job["id"])
    assert other["delivery"]["status"] == "delivered"
    assert other["delivery"]["comparison"]["similarity"] < 0.1
    # Each output embedded once: the first delivered one is kept, not embedded again.
    assert embeddings.inputs() == [
        ["BTC still near 97,000 today", "BTC at 97,000"],
        ["ETH at 3,000"],
    ]
    [(body, headers)] = embeddings.requests[:1]
    assert body["model"] == "tiny-embed" and headers["Authorization"] == "Bearer emb-key"

    # Compared with the last delivered outputs, not only the latest one (ETH).
    again = await run_once(api, alice, job["id"])
    assert again["delivery"]["status"] == "skipped"
    assert again["delivery"]["comparison"]["matched_run_id"] == first["id"]
    assert again["delivery"]["comparison"]["compared_runs"] == 2
    assert embeddings.inputs()[-1] == ["BTC 97k"]
    texts = [call.body["text"] for call in slack.calls(SLACK)]
    assert len(texts) == 2 and "97,000" in texts[0] and "ETH" in texts[1]


async def test_a_failed_run_is_never_held_back(
    api: Api,
    worker: Worker,
    slack: ScriptedServer,
    agent: ScriptedServer,
    embeddings: EmbeddingsServer,
) -> None:
    slack.script(SLACK, OK)
    agent.script("/agent", Reply(200, {"output": "BTC at 97,000"}), Reply(400, {}))
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="web", schedule=YEARLY, delivery=SEMANTIC)
    assert (await run_once(api, alice, job["id"]))["delivery"]["status"] == "delivered"
    failed = await run_once(api, alice, job["id"])
    assert failed["status"] == "failed" and failed["delivery"]["status"] == "skipped"
    assert "comparison" not in failed["delivery"] and embeddings.requests == []


async def test_without_the_embeddings_api_the_exact_comparison_decides(
    api: Api,
    worker: Worker,
    slack: ScriptedServer,
    agent: ScriptedServer,
    embeddings: EmbeddingsServer,
) -> None:
    slack.script(SLACK, OK)
    answers(agent, "BTC at 97,000", "BTC  at 97,000", "BTC still near 97,000 today")
    alice = await api.headers("alice")
    job = await create(api, alice, agent_id="web", schedule=YEARLY, delivery=SEMANTIC)
    first = await run_once(api, alice, job["id"])
    assert first["delivery"]["status"] == "delivered"
    embeddings.stop()

    same = await run_once(api, alice, job["id"])
    assert same["delivery"]["status"] == "skipped"
    assert same["delivery"]["reason"] == (
        f"only_if_changed: the output is the same as run {first['id']}'s, last delivered"
    )
    comparison = same["delivery"]["comparison"]
    assert comparison["method"] == "exact" and comparison["similarity"] is None
    assert "could not be reached" in comparison["semantic_error"]
    assert comparison["semantic_error"].endswith("the exact comparison decided")

    # A near-duplicate the embeddings would have caught goes out: the exact comparison says so.
    near = await run_once(api, alice, job["id"])
    assert near["delivery"]["status"] == "delivered"
    assert near["delivery"]["comparison"]["method"] == "exact"
    assert len(slack.calls(SLACK)) == 2
