"""HTTP routes of the sharing service: the processor's way in, consents to disclosure,
disclosures under consent, and Global Privacy Control.

Legal requests are handled from the command line (``servinfo legal …``), where
intake and review are done by named staff. A ``Sec-GPC: 1`` header on any call a
subject's own principal makes is honoured where it authenticates
(:func:`servinfo.api.dependencies.principal`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from servinfo.access.errors import Forbidden
from servinfo.api.dependencies import DeploymentDep, PrincipalDep
from servinfo.deployment import Deployment
from servinfo.store import Principal

router = APIRouter(tags=["sharing"])

#: Who records a consent for a subject other than through its own principal.
_LEDGER_PERMISSION = "manage_ledgers"


class ProcessorRead(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=128)
    purpose: str
    categories: list[str] = Field(min_length=1)


@router.post("/v1/disclosures/processor")
async def processor_read(
    body: ProcessorRead, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    """A processor's read of one subject within its contract: the sharing service decides
    the basis, issues the grant, reads, and registers the disclosure."""
    package = await run_in_threadpool(
        deployment.sharing.to_processor, principal, body.subject, body.purpose, body.categories
    )
    return package.to_dict()


class RecipientConsent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=128)
    recipient: str = Field(min_length=1, max_length=128)
    purpose: str
    expires_at: dt.datetime | None = None
    #: Only for a recipient in a country no transfer mechanism covers (Art. 49(1)(a)).
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    risks: str | None = Field(default=None, max_length=2000)


def _may_record_for(deployment: Deployment, principal: Principal, subject: str) -> None:
    """A subject's own principal records its own consent; staff need manage_ledgers."""
    if principal.kind == "subject":
        if principal.binding != subject:
            raise Forbidden("a subject principal gives or withdraws only its own consent")
        return
    deployment.principal_service.require_permission(principal, _LEDGER_PERMISSION)


@router.post("/v1/consents/recipients", status_code=201)
def give_recipient_consent(
    body: RecipientConsent, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Record an explicit consent to disclosure to one recipient for one purpose."""
    _may_record_for(deployment, principal, body.subject)
    consent = deployment.sharing.give_consent(
        body.subject,
        recipient=body.recipient,
        purpose=body.purpose,
        channel="api",
        recorded_by=principal.name,
        request=body.model_dump(mode="json"),
        expires_at=body.expires_at,
        country=body.country,
        risks=body.risks,
    )
    return {"id": consent.entry_id, "state": consent.state, "wording_hash": consent.wording_hash}


class RecipientWithdrawal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=128)
    recipient: str = Field(min_length=1, max_length=128)
    purpose: str


@router.post("/v1/consents/recipients/withdraw")
def withdraw_recipient_consent(
    body: RecipientWithdrawal, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Withdraw as easily as it was given: the same scope, the same callers."""
    _may_record_for(deployment, principal, body.subject)
    consent = deployment.sharing.withdraw_consent(
        body.subject, recipient=body.recipient, purpose=body.purpose, actor=principal.name
    )
    return {"id": consent.entry_id, "state": consent.state}


class ConsentDisclosure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=128)
    recipient: str = Field(min_length=1, max_length=128)
    recipient_country: str = Field(pattern=r"^[A-Z]{2}$")
    #: The recipient's X25519 public key, base64: the package is sealed to it.
    recipient_key: str
    purpose: str
    categories: list[str] = Field(min_length=1)


@router.post("/v1/disclosures/consent")
def consent_disclosure(
    body: ConsentDisclosure, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Disclose to a third party under the subject's consent: a sealed package."""
    package = deployment.sharing.with_consent(
        principal,
        body.subject,
        recipient=body.recipient,
        recipient_country=body.recipient_country,
        recipient_key=body.recipient_key,
        purpose=body.purpose,
        categories=body.categories,
    )
    return package.to_dict()


class GpcSignal(BaseModel):
    """A ``Sec-GPC: 1`` the identity service received and forwards as an ingest object."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=128)
    received_at: dt.datetime | None = None


@router.post("/v1/signals/gpc")
def forwarded_gpc(
    body: GpcSignal, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    """The identity service forwards a Global Privacy Control signal it received."""
    deployment.principal_service.require_permission(principal, "register_subjects")
    withdrawn = deployment.sharing.honour_gpc(
        body.subject,
        source=f"forwarded by {principal.name}",
        actor=principal.name,
        now=body.received_at,
    )
    return {"withdrawn": len(withdrawn)}


@router.get("/.well-known/gpc.json")
async def gpc_support(deployment: DeploymentDep) -> dict[str, Any]:
    """servinfo honours Global Privacy Control (GPC spec, section 3.3)."""
    notice = deployment.runtime.current.policy.organization.notice
    return {"gpc": True, "lastUpdate": notice.last_updated.isoformat()}
