"""HTTP routes of data-subject requests (``/v1/requests``), the outbox and restriction lifts.

A subject's own ``subject`` principal opens, reads and downloads its own
requests (its token is its identity, so a request it opens is verified at
once); everything else needs the ``handle_requests`` permission, and someone
else's request answers anyone without it as a request that does not exist.
Verifying with a one-time code needs no token: the code is the proof; nor does
a person's own request by their address (``/v1/self-service/requests``), which
answers the same whether or not the address is known.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from servinfo.access.errors import Forbidden
from servinfo.api.dependencies import DeploymentDep, PrincipalDep
from servinfo.deployment import Deployment
from servinfo.jobs.kinds import queue_dsr_processing
from servinfo.jobs.queue import Job
from servinfo.rights.contact import Address as ContactAddress
from servinfo.rights.contact import AddressChannel
from servinfo.rights.deadlines import RequestType
from servinfo.rights.entries import Request as DsRequest
from servinfo.rights.errors import InvalidRequest, RequestNotFound
from servinfo.rights.notifier import OutboxNotifier
from servinfo.rights.service import is_own_request
from servinfo.store import Principal

router = APIRouter(prefix="/v1", tags=["rights"])
_PERMISSION = "handle_requests"


class Identity(BaseModel):
    """At most one identifier the person knows, instead of the subject's id."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(None, max_length=320, description="An e-mail address.")
    phone: str | None = Field(
        None, max_length=64, description="A phone number, E.164 or national to phone_region."
    )
    username: str | None = Field(None, max_length=256, description="An account's username.")
    phone_region: str | None = Field(
        None, min_length=2, max_length=2, description="The country of a national phone number."
    )
    organization: str | None = Field(
        None, max_length=128, description="Of several accounts with that identifier: which."
    )

    def identifier(self) -> tuple[str, str] | None:
        given = [(k, v) for k in ("email", "phone", "username") if (v := getattr(self, k))]
        if len(given) > 1:
            raise InvalidRequest(
                f"name the person by one identifier, got {', '.join(k for k, _ in given)}"
            )
        return given[0] if given else None


class NewRequest(Identity):
    type: RequestType
    subject: str | None = Field(None, description="Defaults to a subject principal's own.")
    verified: bool = Field(False, description="The operator checked the subject's identity.")
    parameters: dict[str, Any] = Field(default_factory=dict)


class SelfServiceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: RequestType
    email: str | None = Field(None, max_length=320, description="Where the code goes.")
    phone: str | None = Field(None, max_length=64, description="E.164; where the code goes.")
    organization: str | None = Field(
        None, max_length=128, description="Of several accounts with that address: which."
    )
    parameters: dict[str, Any] = Field(default_factory=dict)


class SelfServiceAnswer(BaseModel):
    request: str = Field(description="The reference to verify with the code received.")
    detail: str


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=64)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000)


class Code(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64)


class Process(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proceed_flagged: bool = False


def _operator(deployment: Deployment, principal: Principal) -> None:
    deployment.principal_service.require_permission(principal, _PERMISSION)


def _visible(deployment: Deployment, principal: Principal, request_id: str) -> DsRequest:
    """The request, if ``principal`` is its subject or may handle requests.

    To anyone else, someone's request answers as an id that exists nowhere does
    (the same 404 and text): that a request exists is already something about
    its subject (docs/access.md).
    """
    request = deployment.rights.get(request_id)
    if not is_own_request(principal, request):
        try:
            _operator(deployment, principal)
        except Forbidden:
            raise RequestNotFound(request_id) from None
    return request


@router.post(
    "/requests",
    status_code=201,
    responses={
        404: {"description": "No subject by that id or identifier (unknown_subject)."},
        409: {
            "description": "The identifier names accounts in several organizations "
            "(ambiguous_identifier): name one."
        },
    },
)
def open_request(
    body: NewRequest, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Open a request: for oneself (verified by the token), or as an operator."""
    if principal.kind == "subject":
        if body.subject not in (None, principal.binding) or principal.binding is None:
            raise InvalidRequest("a subject principal opens requests for its own subject only")
        subject, verified = principal.binding, True
    else:
        _operator(deployment, principal)
        identifier = body.identifier()
        if identifier is not None:
            if body.subject is not None:
                raise InvalidRequest("name the subject by its id or by an identifier, not both")
            return deployment.rights.open_by_identifier(
                body.type,
                *identifier,
                principal=principal,
                channel="api",
                organization=body.organization,
                default_region=body.phone_region,
                verified=body.verified,
                parameters=body.parameters,
            ).to_dict()
        if body.subject is None:
            raise InvalidRequest("name the subject the request is for (subject, email, phone …)")
        subject, verified = body.subject, body.verified
    opened = deployment.rights.open(
        body.type,
        subject,
        channel="api",
        actor=principal.name,
        verified=verified,
        parameters=body.parameters,
    )
    return opened.to_dict()


@router.get("/requests")
def list_requests(
    deployment: DeploymentDep,
    principal: PrincipalDep,
    overdue: Annotated[bool, Query(description="Only open requests past their deadline.")] = False,
) -> list[dict[str, Any]]:
    if principal.kind == "subject" and principal.binding is not None:
        found = deployment.rights.list_requests(overdue=overdue, subject_id=principal.binding)
    else:
        _operator(deployment, principal)
        found = deployment.rights.list_requests(overdue=overdue)
    return [r.to_dict() for r in found]


@router.get("/requests/{request_id}")
def show_request(
    request_id: str, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    return _visible(deployment, principal, request_id).to_dict()


@router.post(
    "/requests/{request_id}/send-code",
    status_code=202,
    responses={
        409: {"description": "Not in a state that allows this (wrong_state)."},
        502: {"description": "The mail server or SMS provider refused it (delivery_failed)."},
        503: {"description": "No sender configured for that channel (delivery_unavailable)."},
    },
)
def send_code(
    request_id: str,
    deployment: DeploymentDep,
    principal: PrincipalDep,
    body: Address | None = None,
) -> dict[str, Any]:
    """Send the subject a one-time code: to the address the person gave (``email`` or
    ``phone``), only if it is one of the subject's; else to the account record's.

    Answers the outbox's record of the message (never the code), or an empty notice
    when the address given is not the subject's (nothing was sent).
    """
    _operator(deployment, principal)
    to = None
    if body is not None and (body.email or body.phone):
        if body.email and body.phone:
            raise InvalidRequest("give one address: email or phone")
        kind: AddressChannel = "email" if body.email else "phone"
        canonical = deployment.subject_finder.canonical(kind, body.email or body.phone or "")
        to = ContactAddress(kind, canonical)
    return {"notice": deployment.rights.send_code(request_id, to=to)}


@router.post(
    "/self-service/requests",
    status_code=202,
    responses={
        400: {"description": "Not an e-mail address or phone number (invalid_identifier)."},
    },
)
def self_service_request(body: SelfServiceRequest, deployment: DeploymentDep) -> SelfServiceAnswer:
    """A person's own request, with no token: the code goes to the address they give.

    The answer is the same whether or not the address is known (and comes no sooner
    than ``notify.code_answer_ms``): a reference to verify with the code received at
    ``/v1/requests/{reference}/verify``. An address of accounts in several
    organizations is told which, and opens nothing until one is named.
    """
    started = time.monotonic()
    if bool(body.email) == bool(body.phone):
        raise InvalidRequest("give one address to send the code to: email or phone")
    kind, value = ("email", body.email) if body.email else ("phone", body.phone)
    reference = deployment.rights.request_with_identifier(
        body.type,
        kind,
        value or "",
        organization=body.organization,
        parameters=body.parameters,
    )
    floor = deployment.settings.notify_code_answer_ms / 1000
    time.sleep(max(0.0, floor - (time.monotonic() - started)))
    return SelfServiceAnswer(
        request=reference,
        detail=(
            "if this address belongs to an account, a code was sent to it; verify the "
            "request with it (valid for an hour)"
        ),
    )


@router.post(
    "/requests/{request_id}/verify",
    responses={
        403: {"description": "A wrong, expired or used code (verification_failed)."},
        409: {"description": "The request is not awaiting verification (wrong_state)."},
    },
)
def verify(request_id: str, body: Code, deployment: DeploymentDep) -> dict[str, Any]:
    """Verify the requester's identity with the one-time code they received."""
    return deployment.rights.verify_with_code(request_id, body.code).to_dict()


class ProcessingLinks(BaseModel):
    job: str = Field(description="The job: its state, attempts, progress and result.")
    request: str = Field(description="The request: verified, in_progress, then its answer.")


class ProcessingQueued(BaseModel):
    job: Job = Field(description="The job that processes the request (dsr_process).")
    request: dict[str, Any] = Field(description="The request as it is now.")
    links: ProcessingLinks


@router.post(
    "/requests/{request_id}/process",
    status_code=202,
    responses={
        202: {
            "description": "Queued as a job for a worker (or queued before: the same job). "
            "Follow Location to the job; the request shows its own progress.",
            "headers": {
                "Location": {"description": "/v1/jobs/{job id}", "schema": {"type": "string"}}
            },
        },
        409: {"description": "Not in a state to process, or flagged (flagged_request)."},
    },
)
def process(
    request_id: str,
    body: Process,
    deployment: DeploymentDep,
    principal: PrincipalDep,
    response: Response,
) -> ProcessingQueued:
    """Queue the request's processing as a job (``dsr_process``); asked again, the same job.

    Refused at once (409) when processing could not start now. The job's
    audit entries name the operator who asked (docs/rights.md).
    """
    _operator(deployment, principal)
    job, _ = queue_dsr_processing(
        deployment, request_id, actor=principal.name, proceed_flagged=body.proceed_flagged
    )
    links = ProcessingLinks(job=f"/v1/jobs/{job.id}", request=f"/v1/requests/{request_id}")
    response.headers["Location"] = links.job
    request = deployment.rights.get(request_id)
    return ProcessingQueued(job=job, request=request.to_dict(), links=links)


@router.post(
    "/requests/{request_id}/extend",
    responses={409: {"description": "No extension allowed now (extension_refused)."}},
)
def extend(
    request_id: str, body: Reason, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    _operator(deployment, principal)
    return deployment.rights.extend(request_id, body.reason, actor=principal.name).to_dict()


@router.post(
    "/requests/{request_id}/refuse",
    responses={409: {"description": "Not in a state that allows this (wrong_state)."}},
)
def refuse(
    request_id: str, body: Reason, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    _operator(deployment, principal)
    return deployment.rights.refuse(request_id, body.reason, actor=principal.name).to_dict()


@router.get(
    "/requests/{request_id}/export",
    response_class=Response,
    responses={
        200: {"description": "The export ZIP.", "content": {"application/zip": {}}},
        410: {"description": "No export, or it expired (export_unavailable)."},
    },
)
def download_export(
    request_id: str, deployment: DeploymentDep, principal: PrincipalDep
) -> Response:
    """The request's export ZIP, for its subject or an operator, until it expires."""
    _visible(deployment, principal, request_id)
    info, blob = deployment.rights.export_archive(request_id)
    name = f"servinfo-{info.kind}-{request_id}.zip"
    return Response(
        blob,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.post(
    "/subjects/{subject_id}/restriction/lift-notice",
    status_code=202,
    responses={409: {"description": "No restriction in force (not_in_force)."}},
)
def announce_lift(
    subject_id: str, body: Reason, deployment: DeploymentDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Tell the subject their restriction will be lifted (Art. 18(3))."""
    _operator(deployment, principal)
    notice = deployment.rights.announce_restriction_lift(
        subject_id, body.reason, actor=principal.name
    )
    return {"notice": notice}


@router.post(
    "/subjects/{subject_id}/restriction/lift",
    responses={409: {"description": "Not in force, or not announced (lift_not_announced)."}},
)
def lift(subject_id: str, deployment: DeploymentDep, principal: PrincipalDep) -> dict[str, Any]:
    _operator(deployment, principal)
    lifted = deployment.rights.lift_restriction(subject_id, actor=principal.name)
    return {**lifted, "lifted_at": lifted["lifted_at"].isoformat()}


@router.get("/outbox")
def outbox(
    deployment: DeploymentDep,
    principal: PrincipalDep,
    pending: Annotated[bool, Query(description="Only messages not yet sent.")] = True,
) -> list[dict[str, Any]]:
    """What the operator's mailer sends: recipients by id, payloads without addresses."""
    _operator(deployment, principal)
    return [n.to_dict() for n in OutboxNotifier(deployment.control).notices(pending_only=pending)]


@router.post("/outbox/{notice_id}/sent")
def mark_sent(notice_id: str, deployment: DeploymentDep, principal: PrincipalDep) -> dict[str, Any]:
    _operator(deployment, principal)
    now = dt.datetime.now(dt.UTC)
    return OutboxNotifier(deployment.control).mark_sent(notice_id, now=now).to_dict()
