"""Semantic only-news (docs/api.md, "Only news"): is a run's output a repeat of one of its job's
last delivered outputs, by the cosine similarity of their embeddings?

Embeddings come from an OpenAI-compatible ``POST {AGENT_SCHEDULER_EMBEDDINGS_URL}/embeddings``.
Those of delivered outputs are kept in ``output_embeddings`` (only the job's last few), so each
output is embedded once. When the API is not configured or does not answer, the exact comparison
decides, and the run's ``delivery.comparison`` says why.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.core.index import embeddings as index_embeddings
from api.core.index import runs as index_runs
from api.core.index.models import utcnow
from api.core.settings import Settings
from domain.contract.delivery import DeliverInput
from domain.delivery import SEMANTIC_COMPARED, cosine_similarity, normalized_output

log = logging.getLogger(__name__)
# What of an output is embedded: embedding models take a few thousand tokens at most.
MAX_EMBEDDED_CHARS = 8000


class EmbeddingsUnavailable(Exception):
    """The embeddings API gave no usable answer; the message says why (user-facing)."""


async def embed(http: httpx.AsyncClient, settings: Settings, texts: Sequence[str]) -> list[Any]:
    """The embeddings of ``texts``, in order, from the configured API.

    Raises:
        EmbeddingsUnavailable: Not configured, unreachable, too slow, an error status, or an
            answer that is not one vector per text.
    """
    if not settings.embeddings_url:
        raise EmbeddingsUnavailable(
            "no embeddings API is configured (AGENT_SCHEDULER_EMBEDDINGS_URL)"
        )
    headers = {}
    if settings.embeddings_api_key:
        headers["Authorization"] = f"Bearer {settings.embeddings_api_key}"
    where = "the embeddings API"
    try:
        response = await http.post(
            settings.embeddings_url.rstrip("/") + "/embeddings",
            json={
                "model": settings.embeddings_model,
                "input": [text[:MAX_EMBEDDED_CHARS] or " " for text in texts],
            },
            headers=headers,
            timeout=settings.embeddings_timeout_seconds,
        )
    except httpx.TimeoutException:
        raise EmbeddingsUnavailable(
            f"{where} did not answer within {settings.embeddings_timeout_seconds:g}s"
        ) from None
    except httpx.HTTPError as exc:
        raise EmbeddingsUnavailable(
            f"{where} could not be reached ({exc.__class__.__name__})"
        ) from None
    if response.status_code >= 400:
        raise EmbeddingsUnavailable(f"{where} answered HTTP {response.status_code}")
    try:
        items = sorted(response.json()["data"], key=lambda item: int(item.get("index", 0)))
        vectors = [[float(x) for x in item["embedding"]] for item in items]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise EmbeddingsUnavailable(f"{where} answered something that is not embeddings") from None
    if len(vectors) != len(texts) or any(not vector for vector in vectors):
        raise EmbeddingsUnavailable(f"{where} answered {len(vectors)} vectors for {len(texts)}")
    return vectors


class NewsCheck:
    """Decides whether a completed run's output is news for its job (``only_if_changed``)."""

    def __init__(self, engine: AsyncEngine, settings: Settings, http: httpx.AsyncClient) -> None:
        self._engine = engine
        self._settings = settings
        self._http = http

    async def repeat(self, job: DeliverInput) -> tuple[str | None, dict[str, Any] | None]:
        """Why the output is no news (None: it is), and how it was compared (the run's
        ``delivery.comparison``; None for the exact comparison of ``only_if_changed: true``)."""
        semantic = job.only_if_changed == "semantic"
        async with self._engine.connect() as conn:
            previous = await index_runs.last_delivered_outputs(
                conn,
                job_id=job.run.job_id,
                run_id=job.run.run_id,
                limit=SEMANTIC_COMPARED if semantic else 1,
            )
            stored = (
                await index_embeddings.embeddings_of(
                    conn,
                    run_ids=[run_id for run_id, _ in previous],
                    model=self._settings.embeddings_model,
                )
                if semantic and self._settings.embeddings_url
                else {}
            )
        if not semantic:
            return _exact(job, previous), None
        comparison: dict[str, Any] = {
            "method": "semantic",
            "threshold": job.similarity_threshold,
            "compared_runs": len(previous),
            "similarity": None,
            "matched_run_id": None,
        }
        if not previous:
            return None, comparison  # nothing delivered yet: news, nothing to embed
        missing = [(run_id, output) for run_id, output in previous if run_id not in stored]
        try:
            current, *fresh = await embed(
                self._http,
                self._settings,
                [job.run.output or "", *(output or "" for _, output in missing)],
            )
        except EmbeddingsUnavailable as exc:
            log.warning(
                "run %s: semantic only-news fell back to the exact comparison: %s",
                job.run.run_id,
                exc,
            )
            return _exact(job, previous), {
                "method": "exact",
                "threshold": job.similarity_threshold,
                "compared_runs": 1,
                "similarity": None,
                "matched_run_id": previous[0][0],
                "semantic_error": f"{exc}; the exact comparison decided",
            }
        fresh_vectors = {run_id: vector for (run_id, _), vector in zip(missing, fresh, strict=True)}
        vectors = stored | fresh_vectors
        # The most similar delivered output; on a tie the newest (``previous`` is newest first).
        similarity, matched_run_id = -1.0, previous[0][0]
        for run_id, _ in previous:
            if (score := cosine_similarity(current, vectors[run_id])) > similarity:
                similarity, matched_run_id = score, run_id
        comparison["similarity"] = round(similarity, 4)
        comparison["matched_run_id"] = matched_run_id
        repeat = similarity >= job.similarity_threshold
        await self._keep(job, previous, fresh_vectors, None if repeat else current)
        if repeat:
            return (
                f"only_if_changed: the output is {similarity:.2f} similar to run "
                f"{matched_run_id}'s (threshold {job.similarity_threshold:g})",
                comparison,
            )
        return None, comparison

    async def _keep(
        self,
        job: DeliverInput,
        previous: Sequence[tuple[str, str | None]],
        vectors: dict[str, list[float]],
        current: list[float] | None,
    ) -> None:
        """Store the new embeddings (the run's own when it is about to be delivered) and drop
        the job's older ones; a failure is logged, never raised (it costs a re-embedding)."""
        if current is not None:
            vectors = vectors | {job.run.run_id: current}
        if not vectors:
            return  # nothing new, so nothing older to drop either
        try:
            async with self._engine.begin() as conn:
                await index_embeddings.keep_embeddings(
                    conn,
                    job_id=job.run.job_id,
                    model=self._settings.embeddings_model,
                    vectors=vectors,
                    keep=[run_id for run_id, _ in previous],
                    at=utcnow(),
                )
        except (SQLAlchemyError, OSError) as exc:
            log.warning("run %s: could not keep output embeddings: %s", job.run.run_id, exc)


def _exact(job: DeliverInput, previous: Sequence[tuple[str, str | None]]) -> str | None:
    """Why the output is the job's last delivered one, compared normalized (None: it is not)."""
    if previous and normalized_output(previous[0][1]) == normalized_output(job.run.output):
        return f"only_if_changed: the output is the same as run {previous[0][0]}'s, last delivered"
    return None
