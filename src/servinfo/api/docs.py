"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc).

FastAPI's own pages load their scripts, styles, fonts and favicon from CDNs:
without access to them (an isolated network, a strict browser policy) they
stay blank, and every visit tells the CDN who reads servinfo's documentation.
These pages load the same tools from files vendored into the package
(``static/vendor/``, whose README names each npm package, version and the
command it was fetched with), served by the application at ``/static``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_PATH", "install"]

STATIC_DIR = Path(__file__).parent / "static"
#: Where the application serves ``STATIC_DIR``.
STATIC_PATH = "/static"
_SWAGGER = f"{STATIC_PATH}/vendor/swagger-ui"
_REDOC = f"{STATIC_PATH}/vendor/redoc"
_FAVICON = f"{_SWAGGER}/favicon-32x32.png"


def install(app: FastAPI) -> None:
    """Serve the packaged assets and the two pages (build the app with ``docs_url=None,
    redoc_url=None`` so that FastAPI's CDN pages are not there as well)."""
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="static")
    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or ""),
            title=title,
            swagger_js_url=f"{root}{_SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{_SWAGGER}/swagger-ui.css",
            swagger_favicon_url=root + _FAVICON,
            # Swagger UI would otherwise send the schema's address to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_redoc_html(
            openapi_url=root + (app.openapi_url or ""),
            title=title,
            redoc_js_url=f"{root}{_REDOC}/redoc.standalone.js",
            redoc_favicon_url=root + _FAVICON,
            with_google_fonts=False,
        )


def _root(request: Request) -> str:
    """The path the application is mounted under behind a proxy (``--root-path``), if any."""
    return str(request.scope.get("root_path", "")).rstrip("/")
