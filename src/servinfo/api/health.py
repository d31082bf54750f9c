"""``/healthz`` (liveness, with each store's last check) and ``/readyz`` (readiness).

``/healthz`` answers 200 as long as the worker answers at all, and says what it
knows: ``status`` is ``ok``, or ``degraded`` while a store's last check failed,
and ``stores`` gives each store's last check (``ok`` / ``failed`` with a short
reason / ``unchecked``, and when). A liveness probe that failed on a broken store
would have the orchestrator restart workers that cannot repair it.

``/readyz`` answers 503 ``store_unavailable`` while any store is unhealthy (the
same condition that refuses ingest), 200 otherwise: what a load balancer asks
before sending traffic. See docs/operations.md.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from servinfo.api.dependencies import DeploymentDep
from servinfo.api.errors import error_response
from servinfo.store.failures import StoreUnavailable

router = APIRouter(tags=["operations"])


def _stores(deployment: DeploymentDep) -> dict[str, dict[str, object]]:
    return {check.store: check.to_dict() for check in deployment.health.results()}


@router.get("/healthz")
async def healthz(deployment: DeploymentDep) -> dict[str, Any]:
    """Liveness: always 200 while the worker runs; each store's last check."""
    return {
        "status": "ok" if deployment.health.healthy else "degraded",
        "policy_version": deployment.runtime.current.policy.version,
        "stores": _stores(deployment),
    }


@router.get("/readyz", responses={503: {"description": "A store is unhealthy."}})
async def readyz(deployment: DeploymentDep) -> JSONResponse:
    """Readiness: 200 when no store's last check failed, else 503 naming the store."""
    try:
        deployment.health.require_healthy()
    except StoreUnavailable as unavailable:
        return error_response(
            503, unavailable.code, unavailable.message, stores=_stores(deployment)
        )
    return JSONResponse({"status": "ready", "stores": _stores(deployment)})
