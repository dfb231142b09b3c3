"""A deadline on every request: an answer, if only a 503, whatever stops answering behind it."""

from __future__ import annotations

import asyncio
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response

log = logging.getLogger(__name__)

# Above every bound a request has of its own (Temporal calls 10 s each, the LLM fallback 20 s):
# it only ends requests stuck on something with no bound, such as an index database that
# stopped answering without closing its connections.
REQUEST_DEADLINE_SECONDS = 30.0


class RequestDeadline:
    """ASGI middleware: a request with no response started after ``seconds`` is cancelled
    and answered 503 ``unavailable`` (docs/api.md, "Errors")."""

    def __init__(self, app: ASGIApp, seconds: float = REQUEST_DEADLINE_SECONDS) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_noting_start(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        deadline = asyncio.timeout(self.seconds)
        try:
            async with deadline:
                await self.app(scope, receive, send_noting_start)
        except TimeoutError:
            if not deadline.expired() or started:
                raise
            log.warning(
                "%s %s: no answer within %.0f s", scope["method"], scope["path"], self.seconds
            )
            response = error_response(
                503,
                "unavailable",
                f"no answer within {self.seconds:.0f} s: the index database or Temporal is not "
                "answering; try again shortly",
            )
            await response(scope, receive, send)
