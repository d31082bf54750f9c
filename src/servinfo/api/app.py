"""The FastAPI application: health, metrics, and each domain's routes.

``create_app(deployment)`` builds the app for an open deployment (tests pass
one in); ``app_from_environment()`` is the factory uvicorn workers call, each
opening the deployment named by ``SERVINFO_DATA_DIR`` in its own process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response

import servinfo
from servinfo.access.routes import router as access_router
from servinfo.api import errors
from servinfo.api.metrics import REQUESTS, render
from servinfo.audit.routes import router as audit_router
from servinfo.collect.routes import router as collect_router
from servinfo.deployment import Deployment, open_deployment
from servinfo.rights.drp.routes import router as drp_router
from servinfo.rights.routes import router as rights_router

Handler = Callable[[Request], Awaitable[Response]]
access_logger = logging.getLogger("servinfo.access_log")


def create_app(deployment: Deployment) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        deployment.close()

    app = FastAPI(
        title="servinfo",
        version=servinfo.__version__,
        description="Service Information, collected, stored, used and shared as the "
        "privacy notice says. Every read names a purpose.",
        lifespan=lifespan,
    )
    app.state.deployment = deployment
    errors.install(app)
    app.include_router(access_router)
    app.include_router(audit_router)
    app.include_router(collect_router)
    app.include_router(rights_router)
    app.include_router(drp_router)

    limit = deployment.settings.max_body_bytes

    @app.middleware("http")
    async def guard_and_count(request: Request, call_next: Handler) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            response: Response = errors.error_response(
                413, "payload_too_large", f"the body exceeds the limit of {limit} bytes"
            )
        else:
            response = await call_next(request)
        # The route template (/v1/subjects/{subject_id}/records), never the raw
        # path: paths carry subject ids, which stay out of logs and metrics.
        template = getattr(request.scope.get("route"), "path", "unmatched")
        REQUESTS.labels(template, str(response.status_code)).inc()
        access_logger.info("%s %s %d", request.method, template, response.status_code)
        return response

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "policy_version": deployment.runtime.current.policy.version}

    @app.get("/metrics", tags=["operations"])
    def metrics() -> Response:
        body, content_type = render()
        return Response(body, media_type=content_type)

    return app


def app_from_environment() -> FastAPI:
    """The factory each uvicorn worker calls (``servinfo serve``)."""
    logger = logging.getLogger("servinfo")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return create_app(open_deployment(None, dict(os.environ)))
