"""The per-key rate limit (docs/api.md, "Rate limit") held across the processes of
``agent-scheduler api --workers 2``, which share one index; revocation reaches every process
at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from api.core.index.db import make_engine, make_sessionmaker
from api.core.index.keys import create_key, revoke_key
from api.core.settings import Settings
from tests.helpers.api_process import api_process

pytestmark = pytest.mark.server  # runs `agent-scheduler api` processes (tests/README.md)

LIMIT = 20
T = TypeVar("T")


def _statuses(url: str, key: str, count: int) -> list[httpx.Response]:
    """``count`` GETs, each on a connection of its own (so both processes answer some)."""

    def get(_: int) -> httpx.Response:
        return httpx.get(url, headers={"Authorization": f"Bearer {key}"}, timeout=20)

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(get, range(count)))


async def _in_index(data_dir: Path, action: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``action`` in a session of the processes' SQLite index."""
    engine = make_engine(Settings(data_dir=data_dir).resolved_database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return await action(session)
    finally:
        await engine.dispose()


def test_the_limit_holds_across_workers_and_revocation_is_immediate(tmp_path: Path) -> None:
    with api_process(tmp_path, "--workers", "2", rate_limit=f"{LIMIT}/hour") as api:
        url = f"{api.url}/api/scheduler/jobs"
        hour = time.time() // 3600
        answers = _statuses(url, api.key, 2 * LIMIT)
        if time.time() // 3600 != hour:  # the window rolled over during the burst
            pytest.skip("the rate-limit window ended during the test")
        codes = [answer.status_code for answer in answers]
        assert codes.count(200) == LIMIT and codes.count(429) == LIMIT, codes
        refused = next(answer for answer in answers if answer.status_code == 429)
        assert refused.json()["error"] == "rate_limited"
        assert 0 < int(refused.headers["Retry-After"]) <= 3600

        row, other = asyncio.run(_in_index(tmp_path, partial(create_key, owner="alice")))
        assert [a.status_code for a in _statuses(url, other, 4)] == [200] * 4  # per key
        assert asyncio.run(_in_index(tmp_path, partial(revoke_key, key_id=row.id)))
        assert {a.status_code for a in _statuses(url, other, 8)} == {401}
