"""HTTP routes of the audit log: the public checkpoint and keys, proofs for auditors."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from servinfo.api.dependencies import DeploymentDep, PrincipalDep
from servinfo.audit.service import AuditService

router = APIRouter(prefix="/v1/audit", tags=["audit"])
#: Entry indexes and tree sizes are SQLite/PostgreSQL BIGINTs: a larger one is refused as
#: invalid (422) rather than overflowing the query (it was a 500).
_MAX_INDEX = 2**63 - 1
_TEXT = "text/plain; charset=utf-8"


def _public(deployment: DeploymentDep) -> AuditService:
    return deployment.audit_service


def _service(deployment: DeploymentDep, principal: PrincipalDep) -> AuditService:
    deployment.principal_service.require_permission(principal, "read_audit")
    return deployment.audit_service


@router.get(
    "/checkpoint",
    response_class=Response,
    responses={200: {"description": "A C2SP checkpoint (signed note).", "content": {_TEXT: {}}}},
)
def checkpoint(deployment: DeploymentDep) -> Response:
    """The latest checkpoint with its witnesses' cosignatures. Public: it holds no personal
    data, and anyone may mirror it."""
    return Response(_public(deployment).checkpoint(), media_type=_TEXT)


@router.get("/keys")
def keys(deployment: DeploymentDep) -> dict[str, Any]:
    """The log's origin, its signing keys (C2SP vkeys) with their windows, and the trust
    policy auditors check checkpoints with (C2SP tlog-policy). Public."""
    return _public(deployment).keys()


@router.get(
    "/proof/{index}",
    response_class=Response,
    responses={
        200: {"description": "A C2SP tlog-proof of the entry.", "content": {_TEXT: {}}},
        404: {"description": "No such entry (audit_entry_not_found)."},
    },
)
def inclusion_proof(
    index: Annotated[int, Path(ge=0, le=_MAX_INDEX)],
    deployment: DeploymentDep,
    principal: PrincipalDep,
) -> Response:
    """Entry ``index`` as a tlog-proof against the latest checkpoint; its ``extra`` line
    carries the entry's stored bytes."""
    return Response(_service(deployment, principal).inclusion_proof(index), media_type=_TEXT)


@router.get(
    "/consistency",
    responses={404: {"description": "No checkpoint of that size (audit_head_not_found)."}},
)
def consistency_proof(
    deployment: DeploymentDep,
    old_size: Annotated[int, Query(alias="from", ge=0, le=_MAX_INDEX)],
    new_size: Annotated[int | None, Query(alias="to", ge=0, le=_MAX_INDEX)] = None,
) -> Any:
    """A consistency proof between the checkpoints of two sizes. Public, like the checkpoints
    it links: it holds only hashes of subtrees, and whoever holds an erasure receipt or a
    saved checkpoint (a person, not staff) must be able to check the log never went back."""
    return _public(deployment).consistency_proof(old_size, new_size)
