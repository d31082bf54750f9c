"""Request dependencies: the deployment and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from servinfo.access.errors import ASK_FOR_BEARER, Unauthenticated
from servinfo.deployment import Deployment
from servinfo.store import Principal


# Dependencies that do no I/O are ``async``: FastAPI runs a plain ``def`` one in the
# thread pool, a hop that costs more than the work.
async def deployment(request: Request) -> Deployment:
    found: Deployment = request.app.state.deployment
    return found


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(ASK_FOR_BEARER)
    return token.strip()


def principal(
    request: Request, deployment: Annotated[Deployment, Depends(deployment)]
) -> Principal:
    found = deployment.principal_service.authenticate(bearer_token(request))
    # Global Privacy Control received by servinfo's own pages: an opt-out of sale or
    # sharing where the subject's regime grants one (servinfo.sharing, docs/sharing.md).
    if request.headers.get("sec-gpc") == "1" and found.kind == "subject" and found.binding:
        deployment.sharing.honour_gpc(found.binding, source="Sec-GPC header", actor=found.name)
    return found


async def token(request: Request) -> str:
    """The bearer token, for routes that authenticate in the same worker thread as their work."""
    return bearer_token(request)


DeploymentDep = Annotated[Deployment, Depends(deployment)]
TokenDep = Annotated[str, Depends(token)]
PrincipalDep = Annotated[Principal, Depends(principal)]
