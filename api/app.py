"""The FastAPI application: lifespan-held clients, routers, error handlers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.routing import Route

from api.bodies import BodyGuard
from api.core import tracing
from api.core.index.db import make_engine, make_read_sessionmaker, make_sessionmaker, migrate
from api.core.settings import Settings, get_settings
from api.core.temporal import TemporalConnection
from api.core.version import VERSION
from api.deadline import RequestDeadline
from api.errors import add_exception_handlers
from api.mcp.server import PATH as MCP_PATH
from api.mcp.server import McpEndpoint
from api.routes import agents, chains, health, hooks, incidents, jobs, runs, smart, stats, time
from api.routes import audit as audit_routes
from api.routes import delivery as delivery_routes
from api.routes import keys as keys_routes
from api.routes import status as status_route
from api.services.hooks import MAX_BYTES as HOOK_MAX_BYTES
from api.state import AppState, start_background
from api.telemetry import instrument, metrics_page
from api.ui import install as install_ui
from domain.agents import parse_agents

log = logging.getLogger(__name__)

API_PREFIX = "/api/scheduler"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; its lifespan migrates the index and connects to Temporal."""
    settings = settings or get_settings()
    mcp = McpEndpoint()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.resolved_database_url
        await asyncio.to_thread(migrate, url)
        engine = make_engine(url, sqlite_one_hop=settings.sqlite_one_hop)
        agents_text = settings.agents_file.read_text() if settings.agents_file else None
        app.state.app = AppState(
            settings=settings,
            sessions=make_sessionmaker(engine),
            read_sessions=make_read_sessionmaker(engine),
            temporal=TemporalConnection(settings),
            agents=parse_agents(agents_text),
        )
        background = await start_background(app, app.state.app)
        try:
            async with mcp.running(), metrics_page(settings):
                yield
        finally:
            await background.aclose()
            await engine.dispose()

    app = FastAPI(
        title="agent-scheduler",
        summary="Schedule AI-agent jobs on Temporal.",
        version=VERSION,
        lifespan=lifespan,
        # Served from the package by install_ui (FastAPI's own pages load a CDN).
        docs_url=None,
        redoc_url=None,
        # With traces on (docs/operations.md, "Traces"): one span a request, none for each
        # dependency and serialization step (they cost more than they tell), and none for a
        # read its caller does not trace (reads are the volume and start nothing).
        telemetry={"operation_spans": False, "exclude": tracing.untraced_request()},
    )
    add_exception_handlers(app)
    # Inside the deadline, so the key check is bounded too; the body timeout is below it.
    app.add_middleware(
        BodyGuard,
        prefix=API_PREFIX,
        max_bytes=settings.max_body_bytes,
        timeout=settings.body_timeout_seconds,
        public={f"{API_PREFIX}/hooks/": HOOK_MAX_BYTES},
    )
    app.add_middleware(RequestDeadline)
    instrument(app)
    app.include_router(health.router)
    app.include_router(jobs.router, prefix=API_PREFIX)
    app.include_router(runs.router, prefix=API_PREFIX)
    app.include_router(agents.router, prefix=API_PREFIX)
    app.include_router(delivery_routes.router, prefix=API_PREFIX)
    app.include_router(time.router, prefix=API_PREFIX)
    app.include_router(chains.router, prefix=API_PREFIX)
    app.include_router(stats.router, prefix=API_PREFIX)
    app.include_router(status_route.router, prefix=API_PREFIX)
    app.include_router(smart.router, prefix=API_PREFIX)
    app.include_router(incidents.router, prefix=API_PREFIX)
    app.include_router(keys_routes.router, prefix=API_PREFIX)
    app.include_router(hooks.router, prefix=API_PREFIX)
    app.include_router(audit_routes.router, prefix=API_PREFIX)
    # Not an OpenAPI operation: the MCP transport answers it (docs/api.md, "MCP").
    app.router.routes.append(Route(MCP_PATH, mcp, include_in_schema=False))
    install_ui(app)
    return app
