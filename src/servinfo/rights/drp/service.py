"""DRP requests on servinfo's request workflow (DRP 1.0 sections 2.01 to 2.04).

:meth:`DrpService.exercise` validates the signed message (section 3.07, see
:mod:`~servinfo.rights.drp.messages`), finds the subject, and opens an
ordinary request through :class:`~servinfo.rights.RightsService` on the
``drp`` channel: operators verify, process, extend and refuse it as any
other. Exercises map to request types as follows (``access:categories`` is
left open by the spec; servinfo's meaning is documented in ``docs/drp.md``):

=====================  ==================================================
``access``             ``access``
``access:categories``  ``access``: the export lists the categories, and
                       the information in each (a superset)
``deletion``           ``erasure``
``sale:opt-out``       ``opt-out``
``sale:opt-in``        no request: servinfo has no opt-in in its workflow;
                       ``fulfilled`` when the consumer is not opted out,
                       else ``denied``/``other`` (the consumer confirms an
                       opt-in directly, CCPA regulations s. 7028)
=====================  ==================================================

The consumer is the one the identity claims name (``email``, ``phone_number``:
:mod:`~servinfo.rights.drp.matching`); none, or several, is ``denied`` /
``no_match``. Whether the claims suffice is a setting per action: an
opt-out needs no verification (CCPA regulations s. 7026(d)); when the
claims fall short, the request is opened awaiting the consumer, a one-time
code goes to the address on their account, and the agent is told
``in_progress`` / ``need_user_verification`` with the ``user_verification_url``
where the consumer enters it (DRP 1.0 section 3.02.1;
:mod:`~servinfo.rights.drp.verification`).

The status is derived from the servinfo request whenever it is read
(:mod:`~servinfo.rights.drp.status`). The request lives by its regime's
deadline, not by the message's ``expires-at``: one still awaiting its
consumer after that deadline is refused, ``denied`` /
``insufficient_verification``. Every change queues a status callback, sent by
a job (:mod:`~servinfo.rights.drp.callbacks`); :meth:`DrpService.sync`
notices changes operators made.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Row, delete, insert, select, update

from servinfo.access.principals import PrincipalService
from servinfo.audit import AuditSink
from servinfo.jobs.errors import JobFailed
from servinfo.jobs.kinds import enqueue_drp_callback
from servinfo.jobs.queue import JobQueue
from servinfo.rights.drp.agents import Agent, AgentRegistry
from servinfo.rights.drp.callbacks import (
    CallbackResult,
    CallbackRules,
    CallbackSender,
    HttpxCallbackSender,
)
from servinfo.rights.drp.errors import (
    AgentForbidden,
    DrpRequestNotFound,
    MalformedMessage,
    NotRevocable,
    Replayed,
    RequestMismatch,
)
from servinfo.rights.drp.matching import ClaimMatcher, ClaimPolicy
from servinfo.rights.drp.messages import Rules, exercise, validate
from servinfo.rights.drp.models import DrpRequestRow
from servinfo.rights.drp.status import (
    FINAL_STATUSES,
    INSUFFICIENT_VERIFICATION,
    Status,
    derive,
    status_object,
)
from servinfo.rights.errors import RightsError, VerificationFailed, WrongState
from servinfo.rights.service import RightsService
from servinfo.store.engines import write_transaction

if TYPE_CHECKING:
    from servinfo.deployment import Deployment

__all__ = ["DEFAULT_BUSINESS_ID", "REQUEST_TYPE_OF", "VERIFY_PATH", "DrpService"]

#: The default DRP ``business-id`` (setting ``drp.business_id``, in the directory's [A-Z_]+).
DEFAULT_BUSINESS_ID = "IMS_NETWORK"
#: The servinfo request type each exercise opens (``sale:opt-in`` opens none).
REQUEST_TYPE_OF = {
    "access": "access",
    "access:categories": "access",
    "deletion": "erasure",
    "sale:opt-out": "opt-out",
}
_TABLE = DrpRequestRow.__table__
logger = logging.getLogger("servinfo.rights.drp")
#: The page where a consumer confirms their identity (:mod:`servinfo.rights.drp.verification`).
VERIFY_PATH = "/v1/drp/verify/{request_id}"


class DrpService:
    def __init__(
        self,
        *,
        engine: Engine,
        rights: RightsService,
        principals: PrincipalService,
        matcher: ClaimMatcher,
        audit: AuditSink,
        jobs: JobQueue,
        public_url: str,
        sender: CallbackSender | None = None,
        business_id: str = DEFAULT_BUSINESS_ID,
        max_age: dt.timedelta = dt.timedelta(hours=1),
        clock_skew: dt.timedelta = dt.timedelta(seconds=60),
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._engine = engine
        self._rights = rights
        self.matcher = matcher
        self._jobs = jobs
        self._public_url = public_url.rstrip("/")
        self._sender: CallbackSender = sender or HttpxCallbackSender()
        self._clock = clock
        self.rules = Rules(business_id, max_age, clock_skew)
        self.agents = AgentRegistry(engine, principals, audit, self.rules)

    @classmethod
    def for_deployment(
        cls, deployment: Deployment, *, policy: ClaimPolicy | None = None, **options: Any
    ) -> DrpService:
        """The service of ``deployment``, as its settings say (``options`` override them)."""
        settings = deployment.settings
        rights = deployment.rights
        claims = policy or ClaimPolicy.of(settings.drp_verification, settings.drp_trusted_agents)
        configured: dict[str, Any] = {
            "public_url": settings.drp_public_url or f"https://{settings.host}:{settings.port}",
            "sender": HttpxCallbackSender(CallbackRules.from_settings(settings)),
            "business_id": settings.drp_business_id,
            "max_age": dt.timedelta(seconds=settings.drp_max_age_seconds),
            "clock_skew": dt.timedelta(seconds=settings.drp_clock_skew_seconds),
        }
        return cls(
            engine=deployment.control,
            rights=rights,
            principals=deployment.principal_service,
            matcher=ClaimMatcher(deployment.subject_finder, rights.rights_principal, claims),
            audit=deployment.audit,
            jobs=deployment.jobs.queue,
            **{**configured, **options},
        )

    def now(self) -> dt.datetime:
        return self._clock().astimezone(dt.UTC)

    # -- POST /v1/data-rights-request ---------------------------------------------------

    def exercise(
        self, agent: Agent, body: bytes | str, *, now: dt.datetime | None = None
    ) -> dict[str, Any]:
        """Validate a signed exercise, open the request, and return its status object."""
        at = now or self.now()
        signed = validate(body, agent.verify_key, agent.agent_id, self.rules, at)
        asked = exercise(signed.claims)
        request_id = str(uuid.uuid4())
        with write_transaction(self._engine) as connection:
            earlier = connection.scalar(
                select(DrpRequestRow.request_id).where(DrpRequestRow.payload_hash == signed.digest)
            )
            if earlier is not None:
                raise Replayed(f"this signed message was received already as {earlier}")
            connection.execute(
                insert(DrpRequestRow).values(
                    request_id=request_id,
                    agent_id=agent.agent_id,
                    agent_request_id=asked.agent_request_id,
                    exercise=asked.exercise,
                    regime=asked.regime,
                    status_callback=asked.status_callback or agent.status_callback,
                    issued_at=signed.issued_at,
                    expires_at=signed.expires_at,
                    received_at=at,
                    payload_hash=signed.digest,
                    status="open",
                    settled=False,
                    callback_failures=0,
                )
            )
        try:
            status, rights_id = self._open(agent, asked.exercise, signed.claims, request_id, at)
        except BaseException:
            with write_transaction(self._engine) as connection:
                connection.execute(delete(DrpRequestRow).where(_TABLE.c.request_id == request_id))
            raise
        self._save(
            request_id,
            status,
            rights_request_id=rights_id,
            settled=rights_id is None,
            # The answer tells the agent this status: a callback reports only changes.
            callback_delivered=status.key,
        )
        return status_object(request_id, asked.agent_request_id, at, status)

    def _open(
        self, agent: Agent, action: str, claims: Mapping[str, Any], request_id: str, at: dt.datetime
    ) -> tuple[Status, str | None]:
        """(1) the consumer the claims name, (2) an opt-in answered at once, (3) the request
        opened, verified if the claims suffice for the action, else awaiting the consumer,
        who gets a code (``need_user_verification``)."""
        match = self.matcher.match(agent.agent_id, action, claims)  # (1)
        if match.subject_id is None:
            return Status("denied", "no_match", match.why), None
        subject = match.subject_id
        if action == "sale:opt-in":  # (2)
            if self._rights.opted_out(subject):
                return Status(
                    "denied",
                    "other",
                    "an opt-in must be requested and then confirmed by the consumer directly "
                    "(CCPA regulations s. 7028); their opt-out stays in force",
                ), None
            return Status("fulfilled", processing_details="not opted out: nothing to change"), None
        opened = self._rights.open(  # (3)
            REQUEST_TYPE_OF[action],
            subject,
            channel="drp",
            actor=agent.principal or f"drp:{agent.agent_id}",
            verified=match.sufficient,
            now=at,
        )
        if not match.sufficient:
            try:
                self._rights.send_code(opened.request_id, now=at)
            except RightsError as error:  # no way to reach them now: they ask again at the page
                logger.warning("DRP: the consumer's code was not sent: %s", error.code)
        return derive(opened, self.verification_url(request_id)), opened.request_id

    def verification_url(self, request_id: str) -> str:
        """Where the consumer of DRP request ``request_id`` confirms their identity."""
        return f"{self._public_url}{VERIFY_PATH.format(request_id=request_id)}"

    # -- the consumer, at user_verification_url ------------------------------------------

    def awaits_consumer(self, request_id: str) -> bool:
        """Whether DRP request ``request_id`` waits for its consumer's code."""
        row = self._row(request_id)
        if row.settled or row.rights_request_id is None:
            return False
        return bool(self._rights.get(row.rights_request_id).state == "received")

    def resend_code(self, request_id: str, *, now: dt.datetime | None = None) -> None:
        """A new code to the address on the consumer's account (earlier codes die)."""
        row = self._row(request_id)
        if self.awaits_consumer(request_id):
            self._rights.send_code(row.rights_request_id, now=now or self.now())

    def confirm(self, request_id: str, code: str, *, now: dt.datetime | None = None) -> Status:
        """The consumer's code: the request goes ahead (``in_progress``), its callback queued."""
        at = now or self.now()
        row = self._row(request_id)
        if row.rights_request_id is None:
            raise VerificationFailed(f"request {request_id} awaits no confirmation")
        self._rights.verify_with_code(row.rights_request_id, code, now=at)
        return self._refresh(self._row(request_id), at)

    # -- GET and DELETE /v1/data-rights-request/{request_id} ----------------------------

    def status(
        self, agent: Agent, request_id: str, *, now: dt.datetime | None = None
    ) -> dict[str, Any]:
        row = self._owned(agent, request_id)
        return self._object(row, self._refresh(row, now or self.now()))

    def revoke(
        self, agent: Agent, request_id: str, body: bytes | str, *, now: dt.datetime | None = None
    ) -> dict[str, Any]:
        """Revoke an open or in-progress request (section 2.04); its new status object."""
        at = now or self.now()
        row = self._owned(agent, request_id)
        claims = validate(body, agent.verify_key, agent.agent_id, self.rules, at).claims
        named = claims.get("request_id")
        if not isinstance(named, str):
            raise MalformedMessage("a revoke message names the request_id it revokes")
        if named != request_id:
            raise RequestMismatch(f"the message revokes request {named!r}, not {request_id!r}")
        reason = claims.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise MalformedMessage("reason: expected a string")
        current = self._refresh(row, at)
        if current.status not in ("open", "in_progress"):
            raise NotRevocable(f"request {request_id} is {current.status!r}; it cannot be revoked")
        if row.rights_request_id is not None:
            told = "withdrawn by the consumer through their authorized agent"
            if reason and reason.strip():
                told += f": {reason.strip()[:500]}"
            try:
                self._rights.refuse(
                    row.rights_request_id, told, actor=agent.principal or agent.agent_id, now=at
                )
            except WrongState:
                raise NotRevocable(f"request {request_id} is being processed") from None
        revoked = Status("revoked")
        self._save(request_id, revoked, settled=True)
        self._notify(self._row(request_id), revoked)
        return self._object(self._row(request_id), revoked)

    # -- keeping agents informed ----------------------------------------------------------

    def sync(self, *, now: dt.datetime | None = None) -> int:
        """Derive every live request's status again (operators' changes); count the changes.

        Each change queues its status callback, as a read of the status does.
        """
        at = now or self.now()
        with self._engine.connect() as connection:
            ids = list(
                connection.scalars(
                    select(DrpRequestRow.request_id)
                    .where(DrpRequestRow.status.not_in(FINAL_STATUSES))
                    .order_by(DrpRequestRow.received_at)
                )
            )
        changed = 0
        for request_id in ids:
            row = self._row(request_id)
            now_is = self._refresh(row, at)
            changed += (now_is.status, now_is.reason, now_is.processing_details) != (
                row.status,
                row.reason,
                row.processing_details,
            )
        return changed

    def _refresh(self, row: Row[Any], at: dt.datetime) -> Status:
        """The request's status now; stored, and posted to the agent when it changed."""
        if row.settled or row.rights_request_id is None:
            status = Status(row.status, row.reason, row.processing_details)
        else:
            request = self._rights.get(row.rights_request_id)
            status = derive(request, self.verification_url(row.request_id))
            if status.reason == "need_user_verification" and at.date() > request.answer_by:
                status = self._lapse(row, at)
            if (status.status, status.reason, status.processing_details) != (
                row.status,
                row.reason,
                row.processing_details,
            ):
                self._save(
                    row.request_id, status, settled=status.reason == INSUFFICIENT_VERIFICATION
                )
        self._notify(self._row(row.request_id), status)
        return status

    def _stored(self, row: Row[Any]) -> Status:
        """The status to tell the agent: settled on the DRP record, else the request's own."""
        if row.settled or row.rights_request_id is None:
            return Status(row.status, row.reason, row.processing_details)
        request = self._rights.get(row.rights_request_id)
        return derive(request, self.verification_url(row.request_id))

    def _lapse(self, row: Row[Any], at: dt.datetime) -> Status:
        """The regime's deadline passed and the consumer never confirmed: refused."""
        try:
            self._rights.refuse(
                row.rights_request_id,
                "the consumer did not confirm their identity before the deadline",
                actor=f"drp:{row.agent_id}",
                now=at,
            )
        except WrongState:  # verified meanwhile: it goes on
            request = self._rights.get(row.rights_request_id)
            return derive(request, self.verification_url(row.request_id))
        return Status(
            "denied",
            INSUFFICIENT_VERIFICATION,
            "the consumer did not confirm their identity before the regime's deadline",
        )

    def _notify(self, row: Row[Any], status: Status) -> None:
        """Queue the callback of ``status`` unless the agent knows it: one job per status."""
        if row.status_callback is None or row.callback_delivered == status.key:
            return
        enqueue_drp_callback(self._jobs, row.request_id, status.key)

    def deliver(self, request_id: str, *, now: dt.datetime | None = None) -> CallbackResult:
        """Post the request's current status to its callback, unless the agent knows it.

        What the ``drp_callback`` job runs; the attempt is recorded on the request.
        """
        at = now or self.now()
        row = self._row(request_id)
        status = self._stored(row)
        if row.status_callback is None or row.callback_delivered == status.key:
            return CallbackResult(True, "known to the agent")
        result = self._sender.send(row.status_callback, self._object(row, status))
        with write_transaction(self._engine) as connection:
            connection.execute(
                update(DrpRequestRow)
                .where(DrpRequestRow.request_id == request_id)
                .values(
                    callback_at=at,
                    callback_result=result.detail[:255],
                    callback_delivered=status.key if result.delivered else row.callback_delivered,
                    callback_failures=0 if result.delivered else row.callback_failures + 1,
                )
            )
        return result

    def callback_job(self, request_id: str, *, now: dt.datetime | None = None) -> dict[str, str]:
        """The ``drp_callback`` job: :meth:`deliver`, failing the attempt when undelivered
        (the queue retries it with backoff; a refused destination fails it for good)."""
        result = self.deliver(request_id, now=now)
        if not result.delivered:
            raise JobFailed(f"status callback of {request_id}: {result.detail}", final=result.final)
        return {"request_id": request_id, "result": result.detail}

    # -- rows -----------------------------------------------------------------------------

    def _row(self, request_id: str) -> Row[Any]:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(_TABLE).where(DrpRequestRow.request_id == request_id)
            ).one_or_none()
        if row is None:
            raise DrpRequestNotFound(f"no data rights request {request_id!r}")
        return row

    def _owned(self, agent: Agent, request_id: str) -> Row[Any]:
        row = self._row(request_id)
        if row.agent_id != agent.agent_id:  # section 2.02.1: 403 Forbidden
            raise AgentForbidden(f"request {request_id} is managed by another agent")
        return row

    def _save(self, request_id: str, status: Status, **values: Any) -> None:
        with write_transaction(self._engine) as connection:
            connection.execute(
                update(DrpRequestRow)
                .where(DrpRequestRow.request_id == request_id)
                .values(
                    status=status.status,
                    reason=status.reason,
                    processing_details=status.processing_details,
                    **values,
                )
            )

    @staticmethod
    def _object(row: Row[Any], status: Status) -> dict[str, Any]:
        return status_object(row.request_id, row.agent_request_id, row.received_at, status)
