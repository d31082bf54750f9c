"""HTTP routes of the access layer: reads that name a purpose, decisions, principals.

A read is decided, fetched and decrypted in a worker thread, then its answer
awaits the commit of its audit entries on the event loop
(:class:`servinfo.audit.buffer.Held`): a read waiting for the commit holds no
thread, so the threads keep reading and the reads of a commit's group are many.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from servinfo.access.identifiers import InvalidIdentifier
from servinfo.api.dependencies import DeploymentDep, PrincipalDep

router = APIRouter(prefix="/v1", tags=["access"])

PurposeQuery = Annotated[
    str | None, Query(description="Why the data is read: one of the policy's purposes.")
]


@router.get("/subjects/{subject_id}/records")
async def subject_records(
    subject_id: str,
    deployment: DeploymentDep,
    principal: PrincipalDep,
    purpose: PurposeQuery = None,
    category: Annotated[list[str] | None, Query()] = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> dict[str, Any]:
    """A subject's records that the purpose may read, narrowed to its fields."""
    held = await run_in_threadpool(
        deployment.reads.read_subject_held,
        principal, purpose, subject_id, categories=category, since=since, until=until, limit=limit,
    )  # fmt: skip
    return (await held.settled()).to_dict()


@router.get("/records/{record_id}")
async def record(
    record_id: str, deployment: DeploymentDep, principal: PrincipalDep, purpose: PurposeQuery = None
) -> dict[str, Any]:
    held = await run_in_threadpool(deployment.reads.read_record_held, principal, purpose, record_id)
    return (await held.settled()).to_dict()


class FindSubjects(BaseModel):
    """One identifier the person knows; in the body, so that it stays out of URLs and logs."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=64)
    username: str | None = Field(None, max_length=256)
    phone_region: str | None = Field(
        None, min_length=2, max_length=2, description="The country of a national phone number."
    )
    organization: str | None = Field(None, max_length=128, description="Only this one's.")


@router.post("/subjects/find")
def find_subjects(
    body: FindSubjects, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, list[str]]:
    """The ids of the subjects with that e-mail address, phone number or username: for
    those who answer requests (``handle_requests``), in their role's regions; audited.
    Several ids: one identifier, accounts in several organizations."""
    given = [(k, v) for k in ("email", "phone", "username") if (v := getattr(body, k))]
    if len(given) != 1:
        raise InvalidIdentifier("give exactly one of email, phone, username")
    ((kind, value),) = given
    found = deployment.subject_finder.find_subjects(
        kind,
        value,
        principal=principal,
        organization=body.organization,
        default_region=body.phone_region,
    )
    return {"subjects": found}


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str | None = None
    category: str
    region: str
    subject: str | None = None


@router.post(
    "/decisions",
    responses={404: {"description": "No subject by that id that you may read (unknown_subject)."}},
)
async def explain_decision(
    body: DecisionRequest, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Explain the decision on a read without reading any data.

    A ``subject`` the caller may not read for any purpose answers exactly as one
    that does not exist (404 ``unknown_subject``): its ledgers are its own.
    """
    held = await run_in_threadpool(
        deployment.reads.explain_held,
        principal, body.purpose, body.category, body.region, body.subject,
    )  # fmt: skip
    decision = await held.settled()
    return {
        "allowed": decision.allowed,
        "mechanism": decision.mechanism,
        "policy_version": decision.policy_version,
        "reasons": [{"code": r.code, "passed": r.passed, "text": r.text} for r in decision.reasons],
    }


class NewPrincipal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    kind: Literal[
        "employee", "contractor", "agent", "processor", "service", "subject", "authorized_agent"
    ]
    role: str
    region: str | None = None
    entity: str | None = None
    binding: str | None = None


def _principal_view(p: Any) -> dict[str, Any]:
    return {
        "name": p.name,
        "kind": p.kind,
        "role": p.role,
        "region": p.region,
        "entity": p.entity,
        "binding": p.binding,
        "created_at": p.created_at.isoformat(),
        "revoked_at": p.revoked_at.isoformat() if p.revoked_at else None,
    }


@router.post(
    "/principals",
    status_code=201,
    responses={409: {"description": "A principal by that name exists (duplicate_principal)."}},
)
def add_principal(
    body: NewPrincipal, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Create a principal; its token is in this answer and nowhere else."""
    service = deployment.principal_service
    service.require_permission(principal, "manage_principals")
    issued = service.add(
        body.name,
        kind=body.kind,
        role=body.role,
        region=body.region,
        entity=body.entity,
        binding=body.binding,
        actor=principal.name,
    )
    return {**_principal_view(issued.principal), "token": issued.token}


@router.get("/principals")
def list_principals(deployment: DeploymentDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    deployment.principal_service.require_permission(principal, "manage_principals")
    return [_principal_view(p) for p in deployment.principal_service.all()]


@router.delete(
    "/principals/{name}",
    responses={409: {"description": "The last one who may manage principals (last_admin)."}},
)
def revoke_principal(
    name: str, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    deployment.principal_service.require_permission(principal, "manage_principals")
    return _principal_view(deployment.principal_service.revoke(name, actor=principal.name))
