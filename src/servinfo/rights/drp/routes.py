"""HTTP endpoints of the Data Rights Protocol 1.0 for authorized agents.

``POST /v1/agent/{agent-id}`` (pairwise key setup), ``GET /v1/agent/{agent-id}``
(agent information), ``POST /v1/data-rights-request`` (exercise),
``GET``/``DELETE /v1/data-rights-request/{request_id}`` (status, revoke).

Signed bodies are read raw (``text/plain``: base64 of signature || JSON).
Errors follow the spec, not servinfo's ``{"error", "detail"}``: a JSON object
with ``code`` (the HTTP status as a string), ``message`` and, when retrying
cannot help, ``fatal: true`` (section 3.06); a failed pairwise setup is a
bodiless ``403`` (section 2.05.1). The service is built per app from the
deployment (``app.state.drp`` when a test or an operator put one there).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from servinfo.api.dependencies import DeploymentDep
from servinfo.errors import ServinfoError
from servinfo.rights.drp.agents import Agent
from servinfo.rights.drp.errors import AgentForbidden, AgentUnauthorized, DrpError
from servinfo.rights.drp.service import DrpService

__all__ = ["Drp", "drp_error", "is_drp_path", "router"]

logger = logging.getLogger("servinfo.rights.drp")


def drp_error(status: int, message: str, *, fatal: bool = False) -> JSONResponse:
    """The spec's error object (DRP 1.0 section 3.06)."""
    body: dict[str, Any] = {"code": str(status), "message": message}
    if fatal:
        body["fatal"] = True
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status, headers=headers)


class _DrpRoute(APIRoute):
    """Answers every error of a DRP endpoint, its dependencies included, the spec's way."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except DrpError as error:
                return drp_error(error.http_status, error.message, fatal=error.fatal)
            except ServinfoError as error:  # e.g. the request machinery refusing
                return drp_error(error.http_status, error.message)
            except RequestValidationError as error:
                return drp_error(422, _problems(error))
            except HTTPException as error:  # a body over the limit (413)
                return drp_error(error.status_code, str(error.detail))

        return answer


def _problems(error: RequestValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item.get('loc', ()))}: {item.get('msg', 'invalid')}"
        for item in error.errors()
    )


#: The paths of the agents' endpoints: every answer there, the app's own 404, 405 and 413
#: among them, is the spec's error object (servinfo.api.errors, servinfo.api.middleware).
_AGENT_PATHS = re.compile(r"/v1/(?:agent|data-rights-request)(?:/.*)?", re.DOTALL)


def is_drp_path(path: str) -> bool:
    """Whether ``path`` is under the agents' endpoints."""
    return _AGENT_PATHS.fullmatch(path) is not None


router = APIRouter(prefix="/v1", tags=["drp"], route_class=_DrpRoute)


class DrpErrorBody(BaseModel):
    """The spec's error object (DRP 1.0 section 3.06), as :func:`drp_error` answers it."""

    code: str
    message: str
    fatal: bool | None = None


_MEANING = {
    400: "The message cannot be decoded, is malformed, too old, expired or unsupported.",
    401: "No bearer token, or not a paired agent's current one.",
    403: "A bad signature, another agent's request, or another business.",
    404: "No DRP request with that id.",
    413: "The body exceeds the limit.",
    429: "Too many requests from this address, or for this agent or request.",
    409: "A replayed message, or a request that can no longer be revoked.",
    422: "The request machinery refuses the exercise's parameters.",
}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of the statuses a DRP endpoint answers in the spec's format."""
    return {status: {"model": DrpErrorBody, "description": _MEANING[status]} for status in statuses}


def _service(request: Request, deployment: DeploymentDep) -> DrpService:
    state = request.app.state
    if getattr(state, "drp", None) is None:
        state.drp = DrpService.for_deployment(deployment)
    service: DrpService = state.drp
    return service


Drp = Annotated[DrpService, Depends(_service)]


def _agent(request: Request, drp: Drp) -> Agent:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AgentUnauthorized("send 'Authorization: Bearer <token>' from pairwise key setup")
    return drp.agents.authenticate(token.strip())


AgentDep = Annotated[Agent, Depends(_agent)]


@router.post(
    "/agent/{agent_id}",
    responses={
        403: {"description": "The setup was refused (no body, section 2.05.1)."},
        **_errors(413, 429),
    },
)
async def pairwise_setup(agent_id: str, request: Request, drp: Drp) -> Response:
    """Pair-wise key setup (section 2.05): a signed message in, a bearer token out."""
    body = await request.body()
    try:
        agent, token = await run_in_threadpool(drp.agents.pair, agent_id, body, now=drp.now())
    except DrpError as error:
        # The spec: "HTTP 403 Forbidden response with no response body".
        logger.info("DRP pairwise setup refused: %s", error.code)
        return Response(status_code=403)
    return JSONResponse({"agent-id": agent.agent_id, "token": token})


@router.get("/agent/{agent_id}", responses=_errors(401, 403, 429))
def agent_information(agent_id: str, agent: AgentDep) -> dict[str, Any]:
    """Agent information (section 2.06): whether the token is still valid."""
    if agent.agent_id != agent_id:
        raise AgentForbidden(f"the token is not agent {agent_id!r}'s")
    return {}


@router.post("/data-rights-request", responses=_errors(400, 401, 403, 409, 413, 422, 429))
@router.post("/data-rights-request/", include_in_schema=False)  # before DRP 0.9.3
async def exercise(request: Request, drp: Drp, agent: AgentDep) -> dict[str, Any]:
    """Data rights exercise (section 2.01)."""
    body = await request.body()
    return await run_in_threadpool(drp.exercise, agent, body)


@router.get("/data-rights-request/{request_id}", responses=_errors(401, 403, 404, 429))
def status(request_id: str, drp: Drp, agent: AgentDep) -> dict[str, Any]:
    """Data rights status (section 2.02)."""
    return drp.status(agent, request_id)


@router.delete(
    "/data-rights-request/{request_id}", responses=_errors(400, 401, 403, 404, 409, 413, 429)
)
async def revoke(request_id: str, request: Request, drp: Drp, agent: AgentDep) -> dict[str, Any]:
    """Data rights revoke (section 2.04)."""
    body = await request.body()
    return await run_in_threadpool(drp.revoke, agent, request_id, body)
