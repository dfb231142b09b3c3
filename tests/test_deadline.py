"""The request deadline (api/deadline.py): a request stuck behind something that stopped
answering ends with a 503 in the error body of docs/api.md, "Errors"; others pass untouched."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from api.deadline import RequestDeadline
from api.errors import add_exception_handlers


def app_with(seconds: float) -> FastAPI:
    app = FastAPI()
    add_exception_handlers(app)
    app.add_middleware(RequestDeadline, seconds=seconds)

    @app.get("/stuck")
    async def stuck() -> dict[str, str]:
        await asyncio.sleep(60)  # like a query to a frozen database
        return {}

    @app.get("/quick")
    async def quick() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/own-timeout")
    async def own_timeout() -> dict[str, str]:
        raise TimeoutError("not the deadline's")

    return app


async def test_a_stuck_request_answers_503_at_the_deadline() -> None:
    transport = httpx.ASGITransport(app=app_with(0.3), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await asyncio.wait_for(http.get("/stuck"), timeout=10)
        assert answer.status_code == 503
        body = answer.json()
        assert body["error"] == "unavailable" and body["status"] == 503 and body["message"]
        assert (await http.get("/quick")).json() == {"ok": "yes"}
        # A TimeoutError of the route's own is a bug of its own: a 500, not the deadline's 503.
        assert (await http.get("/own-timeout")).status_code == 500
