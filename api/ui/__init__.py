"""The built-in dashboard (``/ui``) and the API docs pages (``/docs``, ``/redoc``), every asset
served from the package: no page of the service loads anything from another host.

The dashboard is plain HTML, CSS and ES modules (``static/``), with no build step; it reads the
public REST API with the API key the user signs in with (kept in the tab's ``sessionStorage``).
Swagger UI and ReDoc come from the ``fastapi-offline`` wheel's static files (MIT), wired with
FastAPI's own self-hosting recipe (``get_swagger_ui_html``, ``get_redoc_html``).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(str(files("api.ui") / "static"))
DOCS_ASSETS = Path(str(files("fastapi_offline") / "static"))
UI_PATH = "/ui"
DOCS_ASSETS_PATH = "/docs-assets"
# The dashboard's pages never change at run time; each answer says so to the browser, but
# briefly, so an upgrade shows at once.
_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
# What the dashboard may load: its own files and the API, nothing from elsewhere.
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

# Swagger UI and ReDoc start from an inline script FastAPI writes; nothing else is inline. ReDoc
# shows a logo from its CDN in its sidebar: refused here, so the page stays offline (it hides
# an image that did not load).
_DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'"
)


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = _DOCS_CSP
    return page


def install(app: FastAPI) -> None:
    """Add ``/ui`` (the dashboard), ``/docs`` and ``/redoc`` (offline) to ``app``.

    ``app`` is built with ``docs_url=None, redoc_url=None``: these replace FastAPI's pages,
    which load Swagger UI and ReDoc from a CDN.
    """
    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect = "/docs/oauth2-redirect"

    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    app.mount(f"{UI_PATH}/static", StaticFiles(directory=STATIC), name="ui-static")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            oauth2_redirect_url=oauth2_redirect,
            swagger_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_PATH}/favicon.png",
            # No badge that would send the document to the public validator.
            swagger_ui_parameters={"validatorUrl": None},
        )
        return _offline(page)

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
        return _offline(page)

    @app.get(UI_PATH, include_in_schema=False)
    @app.get(f"{UI_PATH}/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(
            STATIC / "index.html",
            media_type="text/html",
            headers={**_HEADERS, "Content-Security-Policy": _CSP},
        )
