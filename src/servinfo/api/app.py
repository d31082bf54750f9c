"""The FastAPI application: health, metrics, documentation, and each domain's routes.

``create_app(deployment)`` builds the app for an open deployment (tests pass
one in); ``app_from_environment()`` is the factory uvicorn workers call, each
opening the deployment named by ``SERVINFO_DATA_DIR`` in its own process.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Response

import servinfo
from servinfo.access.routes import router as access_router
from servinfo.api import docs, errors, openapi
from servinfo.api.health import router as health_router
from servinfo.api.limits import TIMEOUTS_STATE_KEY
from servinfo.api.metrics import render
from servinfo.api.middleware import GuardAndCount, body_limits, connection_timeouts, rate_limiter
from servinfo.audit.routes import router as audit_router
from servinfo.cli._output import log_to_stderr
from servinfo.collect.routes import Batches
from servinfo.collect.routes import router as collect_router
from servinfo.collect.singles import SingleRequests
from servinfo.deployment import Deployment, open_deployment
from servinfo.jobs.routes import router as jobs_router
from servinfo.rights.drp.routes import router as drp_router
from servinfo.rights.drp.verification import router as drp_verification_router
from servinfo.rights.routes import router as rights_router
from servinfo.sharing.routes import router as sharing_router


def create_app(deployment: Deployment, *, freeze_heap: bool = False) -> FastAPI:
    """The app for an open deployment. ``freeze_heap`` is for a worker process of its own:
    what is built before serving leaves the garbage collector's sight (below)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, object]]:
        deployment.prepare_to_serve()
        # Each store's stamp and integrity: now, then every integrity_check_seconds.
        deployment.health.start(deployment.settings.integrity_check_seconds)
        # Checkpoints of a quiet log, and their witnessing.
        deployment.audit_witnessing.start()
        if freeze_heap:
            # What is built by now (libraries, the app, the compiled policy) lives as
            # long as the worker. Frozen, the cyclic garbage collector stops walking it
            # at every full collection, which ingest's per-record dicts set off often:
            # about 10 µs less server CPU a batched record, in alternating runs.
            gc.collect()
            gc.freeze()
        # The lifespan state reaches the HTTP protocol of each connection (_protocol).
        yield {TIMEOUTS_STATE_KEY: connection_timeouts(deployment.settings)}
        deployment.close()

    app = FastAPI(
        title="servinfo",
        version=servinfo.__version__,
        description="Service Information, collected, stored, used and shared as the "
        "privacy notice says. Every read names a purpose.",
        lifespan=lifespan,
        # Served by docs.install from packaged assets, not FastAPI's CDN pages.
        docs_url=None,
        redoc_url=None,
        # Starlette's redirect to the path with(out) its trailing slash built its
        # Location from the request's Host header, which anyone can set.
        redirect_slashes=False,
    )
    app.state.deployment = deployment
    # Each worker's own: its single-object requests answered in groups, its batches in turns.
    app.state.single_requests = SingleRequests(deployment)
    app.state.batches = Batches()
    errors.install(app)
    docs.install(app)
    openapi.install(app)
    app.include_router(access_router)
    app.include_router(audit_router)
    app.include_router(collect_router)
    app.include_router(rights_router)
    app.include_router(drp_router)
    app.include_router(drp_verification_router)
    app.include_router(jobs_router)
    app.include_router(sharing_router)
    app.include_router(health_router)

    app.add_middleware(
        GuardAndCount,
        limits=body_limits(deployment.settings),
        rates=rate_limiter(deployment.settings),
    )

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"description": "Prometheus metrics.", "content": {"text/plain": {}}}},
    )
    def metrics() -> Response:
        body, content_type = render()
        return Response(body, media_type=content_type)

    return app


#: How long a thread may hold the interpreter lock while another waits for it (Python's
#: default is 5 ms). A request's writes release it around every SQLite call and then
#: wait to get it back; while the event loop or another thread is busy, each
#: of those waits lasted up to the whole interval, which stretched every commit of a
#: group (and every lock held meanwhile) to tens of milliseconds.
WORKER_SWITCH_INTERVAL = 0.001


def app_from_environment() -> FastAPI:
    """The factory each uvicorn worker calls (``servinfo serve``)."""
    sys.setswitchinterval(WORKER_SWITCH_INTERVAL)
    log_to_stderr()
    return create_app(open_deployment(None, dict(os.environ)), freeze_heap=True)
