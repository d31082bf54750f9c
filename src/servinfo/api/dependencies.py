"""Request dependencies: the deployment and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from servinfo.access.errors import Unauthenticated
from servinfo.deployment import Deployment
from servinfo.store import Principal


def deployment(request: Request) -> Deployment:
    found: Deployment = request.app.state.deployment
    return found


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    return token.strip()


def principal(
    request: Request, deployment: Annotated[Deployment, Depends(deployment)]
) -> Principal:
    return deployment.principal_service.authenticate(bearer_token(request))


DeploymentDep = Annotated[Deployment, Depends(deployment)]
PrincipalDep = Annotated[Principal, Depends(principal)]
