"""Request bodies of the REST API: the key checked before a byte is read, then a bounded read.

docs/operations.md, "Limits and timeouts", and docs/api.md, "Errors".
"""

from __future__ import annotations

import asyncio

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import bearer_key, check_key_early
from api.errors import error_body, error_response
from api.state import AppState

# An answer given before the body was read whole closes the connection: the rest of the body
# is then never read (keeping it open would mean reading and dropping it all).
_CLOSE = {"Connection": "close"}


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0") != "0"


class BodyGuard:
    """ASGI middleware for requests with a body under ``prefix``.

    In order: a missing or bad API key is a 401 at once (the key's row is left in the request's
    state, so the route's own check does not look it up again); a ``Content-Length`` over
    ``max_bytes`` is a 413 at once; then the body is read, refused with a 413 as soon as it
    passes ``max_bytes`` and with a 408 ``request_timeout`` if it is not all in within
    ``timeout`` seconds. Each of these answers
    closes the connection. The body read is handed to the app as if it had just arrived.

    ``public`` maps path prefixes under ``prefix`` that take no API key (hook deliveries, which
    the route checks by their signature) to the most bytes their bodies may have.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        prefix: str,
        max_bytes: int,
        timeout: float,
        public: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.public = public or {}

    def _guards(self, scope: Scope) -> bool:
        path: str = scope["path"]
        return path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._guards(scope):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not _has_body(headers):
            await self.app(scope, receive, send)
            return
        public = next(
            (most for path, most in self.public.items() if scope["path"].startswith(path)), None
        )
        max_bytes = self.max_bytes if public is None else min(public, self.max_bytes)
        answer = await self._refusal(scope, headers, keyed=public is None, max_bytes=max_bytes)
        if answer is None:
            read = await self._read(receive, max_bytes)
            if read is None:
                return  # the client went away
            if isinstance(read, bytes):
                await self.app(scope, replaying(read, receive), send)
                return
            answer = read
        await answer(scope, receive, send)

    async def _refusal(
        self, scope: Scope, headers: Headers, *, keyed: bool, max_bytes: int
    ) -> Response | None:
        """What answers the request before its body is read: the 401 of a bad key (a 503 when
        the index is down; ``keyed`` routes only), or the 413 of a ``Content-Length`` over
        ``max_bytes``."""
        state: AppState = scope["app"].state.app
        try:
            # A session connects at its first query: a missing key is refused before any.
            if keyed:
                async with state.read_sessions() as session:
                    await check_key_early(
                        session,
                        bearer_key(headers.get("authorization")),
                        scope.setdefault("state", {}),
                    )
        except Exception as exc:  # noqa: BLE001 - answered as the route would (401, 503)
            failure = error_body(exc)
            return error_response(failure.status, failure.error, failure.message, headers=_CLOSE)
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            return self._too_large(max_bytes)
        return None

    def _too_large(self, max_bytes: int) -> Response:
        return error_response(
            413,
            "payload_too_large",
            f"The request body is over {max_bytes} bytes, the most this API reads",
            headers=_CLOSE,
        )

    async def _read(self, receive: Receive, max_bytes: int) -> bytes | Response | None:
        """The whole body, a 413 or 408 answer, or None when the client disconnected."""
        body = bytearray()
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    body += message.get("body", b"")
                    if len(body) > max_bytes:
                        return self._too_large(max_bytes)
                    if not message.get("more_body", False):
                        return bytes(body)
        except TimeoutError:
            return error_response(
                408,
                "request_timeout",
                f"The request body did not arrive within {self.timeout:g} s",
                headers=_CLOSE,
            )


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives ``body`` (already read) first, then what ``receive`` gives."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
