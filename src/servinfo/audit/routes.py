"""HTTP routes of the audit log: the signed head and proofs an auditor checks offline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from servinfo.api.dependencies import DeploymentDep, PrincipalDep
from servinfo.audit.service import AuditService

router = APIRouter(prefix="/v1/audit", tags=["audit"])
#: Entry indexes and tree sizes are SQLite/PostgreSQL BIGINTs: a larger one is refused as
#: invalid (422) rather than overflowing the query (it was a 500).
_MAX_INDEX = 2**63 - 1


def _service(deployment: DeploymentDep, principal: PrincipalDep) -> AuditService:
    deployment.principal_service.require_permission(principal, "read_audit")
    return AuditService(deployment.audit)


@router.get("/head")
def head(deployment: DeploymentDep, principal: PrincipalDep) -> dict[str, Any]:
    """The latest signed tree head and the public keys that verify it."""
    service = _service(deployment, principal)
    return {"head": service.head(), "public_keys": service.public_keys()}


@router.get("/proof/{index}")
def inclusion_proof(
    index: Annotated[int, Path(ge=0, le=_MAX_INDEX)],
    deployment: DeploymentDep,
    principal: PrincipalDep,
) -> Any:
    """An inclusion proof of entry ``index`` against the latest signed head."""
    return _service(deployment, principal).inclusion_proof(index)


@router.get(
    "/consistency",
    responses={404: {"description": "No head signed at that tree size (audit_head_not_found)."}},
)
def consistency_proof(
    deployment: DeploymentDep,
    principal: PrincipalDep,
    old_size: Annotated[int, Query(alias="from", ge=0, le=_MAX_INDEX)],
    new_size: Annotated[int | None, Query(alias="to", ge=0, le=_MAX_INDEX)] = None,
) -> Any:
    """A consistency proof between the signed heads of two tree sizes."""
    return _service(deployment, principal).consistency_proof(old_size, new_size)
