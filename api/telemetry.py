"""The API's metrics and traces (docs/operations.md, "Metrics" and "Traces"): a middleware that
counts every request under its route template, the API's metrics page, and the request span."""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Mount, Route, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core import logs, metrics, tracing
from api.core.settings import Settings

log = logging.getLogger(__name__)
# A request no route matched: one label value, whatever the path was.
UNMATCHED = "<unmatched>"


class RequestMetrics:
    """Counts each HTTP request by method, route template (never the raw path) and status,
    and times it to the end of its answer."""

    def __init__(self, app: ASGIApp, routes: RouteTemplates) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500  # what the server answers when the app raises before answering

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            route = self.routes.of(scope)
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - began)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
REQUEST_ID_HEADER = "x-request-id"
# A caller's own request id is kept when it looks like one; any other gets a new id.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,80}")


class RequestIds:
    """Gives each HTTP request an id: the caller's ``X-Request-Id`` when it is 1–80 characters
    of ``A-Z a-z 0-9 . _ : -``, else a new ``req_<16 hex>``. It is answered in the response's
    ``X-Request-Id``, carried by the request's log lines and recorded on its audit events."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = next(
            (v for k, v in scope.get("headers", ()) if k == REQUEST_ID_HEADER.encode()), b""
        ).decode("latin-1")
        request_id = sent if _REQUEST_ID.fullmatch(sent) else f"req_{secrets.token_hex(8)}"
        logs.bind(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", ()) if k != REQUEST_ID_HEADER.encode()
                ]
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


class RouteTemplates:
    """The route template of a request: ``/api/scheduler/jobs/{job_id}``, the mount point of
    a mounted app (``/ui/static``), or ``<unmatched>``."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._known: list[tuple[re.Pattern[str], str]] | None = None

    def of(self, scope: Scope) -> str:
        """The template of the route that answered; a request answered before routing (a 401
        or 413 of the body guard) is matched against every route's template."""
        route = scope.get("route")
        path: str = scope["path"]
        if isinstance(route, Mount):
            return route.path
        template = getattr(route, "path", None)
        if isinstance(template, str):
            # A router included under a prefix routes on the rest of the path: the prefix is
            # what the rest does not cover.
            try:
                rest = template.format_map(scope.get("path_params", {}))
            except (KeyError, IndexError, ValueError):
                return template
            return path.removesuffix(rest) + template if path.endswith(rest) else template
        for pattern, known in self._templates():
            if pattern.fullmatch(path) or (known.endswith("/") and path.startswith(known)):
                return known.rstrip("/") or "/"
        return UNMATCHED

    def _templates(self) -> list[tuple[re.Pattern[str], str]]:
        if self._known is None:
            paths = list(self._app.openapi().get("paths", {}))
            for route in self._app.router.routes:
                if isinstance(route, Mount):
                    paths.append(route.path + "/")
                elif isinstance(route, Route) and route.path not in paths:
                    paths.append(route.path)
            self._known = [(compile_path(known)[0], known) for known in paths]
        return self._known


def instrument(app: FastAPI) -> None:
    """Count requests (outermost, so a 413 or a 408 is counted too) and, with traces on,
    trace them."""
    app.add_middleware(RequestMetrics, routes=RouteTemplates(app))
    app.add_middleware(RequestIds)  # outermost: every answer carries its id
    # FastAPI traces each request itself once a tracer provider is set (its own telemetry:
    # a server span named by the route template, the caller's traceparent continued).
    tracing.configure()


@asynccontextmanager
async def metrics_page(settings: Settings) -> AsyncIterator[None]:
    """Serve the API's metrics while the app runs, when a port is set; in a process of
    ``api --workers N`` the parent serves them for all processes."""
    if settings.metrics_port is None or metrics.in_multiprocess_mode():
        yield
        return
    gauges = metrics.IndexGauges(settings.resolved_database_url, jobs=True, incidents=False)
    server = metrics.serve(
        metrics.API, settings.metrics_host, settings.metrics_port, extra=[gauges]
    )
    log.info("API metrics on %s", server.url)
    try:
        yield
    finally:
        server.close()
