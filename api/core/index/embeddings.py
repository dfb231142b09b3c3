"""Queries on ``output_embeddings``: the embeddings of delivered outputs that semantic only-news
compares a new output with (docs/api.md, "Only news")."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from api.core.index.db import upsert_insert
from api.core.index.models import output_embeddings


async def embeddings_of(
    conn: AsyncConnection, *, run_ids: Sequence[str], model: str
) -> dict[str, list[float]]:
    """The stored embeddings of ``run_ids``' outputs under ``model``: run id -> vector."""
    if not run_ids:
        return {}
    rows = await conn.execute(
        sa.select(output_embeddings.c.run_id, output_embeddings.c.embedding).where(
            output_embeddings.c.run_id.in_(run_ids), output_embeddings.c.model == model
        )
    )
    return {row.run_id: list(row.embedding) for row in rows}


async def keep_embeddings(
    conn: AsyncConnection,
    *,
    job_id: str,
    model: str,
    vectors: dict[str, list[float]],
    keep: Sequence[str],
    at: datetime,
) -> None:
    """Store ``vectors`` (run id -> embedding) of the job's outputs, and drop the job's others
    but those of ``keep``: only the outputs a next run compares with stay."""
    for run_id, vector in vectors.items():
        await conn.execute(
            upsert_insert(conn)(output_embeddings)
            .values(run_id=run_id, model=model, job_id=job_id, embedding=vector, created_at=at)
            .on_conflict_do_nothing(
                index_elements=[output_embeddings.c.run_id, output_embeddings.c.model]
            )
        )
    await conn.execute(
        output_embeddings.delete().where(
            output_embeddings.c.job_id == job_id,
            output_embeddings.c.run_id.not_in([*keep, *vectors]),
        )
    )
