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

The subject is the ``subject_id`` claim: the opaque id servinfo's identity
service issued to the consumer. No or an unknown id is ``denied``/``no_match``.
Opt-outs and opt-ins are opened verified (they need no verifiable consumer
request, CCPA regulations s. 7026(d)); access and deletion wait for the
consumer to confirm their identity directly (s. 7063(a)): a one-time code is
sent to them at once. ``agent_verifies`` changes that list.

The status is derived from the servinfo request whenever it is read
(:mod:`~servinfo.rights.drp.status`); a request still ``open`` after its
``expires-at`` is refused and becomes ``expired``. Every change is posted to the
status callback (:mod:`~servinfo.rights.drp.callbacks`); :meth:`DrpService.sync`
notices changes operators made and retries undelivered callbacks.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Mapping
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
from servinfo.rights.drp.messages import Rules, exercise, validate
from servinfo.rights.drp.models import DrpRequestRow
from servinfo.rights.drp.status import FINAL_STATUSES, Status, derive, status_object
from servinfo.rights.errors import WrongState
from servinfo.rights.service import RightsService
from servinfo.store import SubjectDirectory, UnknownSubject
from servinfo.store.engines import write_transaction

if TYPE_CHECKING:
    from servinfo.deployment import Deployment

__all__ = ["DEFAULT_BUSINESS_ID", "REQUEST_TYPE_OF", "DrpService"]

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


class DrpService:
    def __init__(
        self,
        *,
        engine: Engine,
        rights: RightsService,
        principals: PrincipalService,
        directory: SubjectDirectory,
        audit: AuditSink,
        jobs: JobQueue,
        sender: CallbackSender | None = None,
        business_id: str = DEFAULT_BUSINESS_ID,
        agent_verifies: Collection[str] = ("sale:opt-out", "sale:opt-in"),
        max_age: dt.timedelta = dt.timedelta(hours=1),
        clock_skew: dt.timedelta = dt.timedelta(0),
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._engine = engine
        self._rights = rights
        self._directory = directory
        self._jobs = jobs
        self._sender: CallbackSender = sender or HttpxCallbackSender()
        self._agent_verifies = frozenset(agent_verifies)
        self._clock = clock
        self.rules = Rules(business_id, max_age, clock_skew)
        self.agents = AgentRegistry(engine, principals, audit, self.rules)

    @classmethod
    def for_deployment(cls, deployment: Deployment, **options: Any) -> DrpService:
        """The service of ``deployment``, as its settings say (``options`` override them)."""
        settings = deployment.settings
        configured: dict[str, Any] = {
            "sender": HttpxCallbackSender(CallbackRules.from_settings(settings)),
            "business_id": settings.drp_business_id,
            "max_age": dt.timedelta(seconds=settings.drp_max_age_seconds),
            "clock_skew": dt.timedelta(seconds=settings.drp_clock_skew_seconds),
        }
        return cls(
            engine=deployment.control,
            rights=deployment.rights,
            principals=deployment.principal_service,
            directory=deployment.directory,
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
            status, rights_id = self._open(agent, asked.exercise, signed.claims, at)
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
        self, agent: Agent, action: str, claims: Mapping[str, Any], at: dt.datetime
    ) -> tuple[Status, str | None]:
        subject = self._subject(claims)
        if subject is None:
            return Status(
                "denied",
                "no_match",
                "no consumer matches the subject_id claim (see the business's DRP notes)",
            ), None
        if action == "sale:opt-in":
            if self._rights.opted_out(subject):
                return Status(
                    "denied",
                    "other",
                    "an opt-in must be requested and then confirmed by the consumer directly "
                    "(CCPA regulations s. 7028); their opt-out stays in force",
                ), None
            return Status("fulfilled", processing_details="not opted out: nothing to change"), None
        verified = action in self._agent_verifies
        opened = self._rights.open(
            REQUEST_TYPE_OF[action],
            subject,
            channel="drp",
            actor=agent.principal or f"drp:{agent.agent_id}",
            verified=verified,
            now=at,
        )
        if not verified:
            self._rights.send_code(opened.request_id, now=at)
        return derive(opened), opened.request_id

    def _subject(self, claims: Mapping[str, Any]) -> str | None:
        claimed = claims.get("subject_id")
        if claimed is None:
            return None
        if not isinstance(claimed, str) or not 0 < len(claimed) <= 128:
            raise MalformedMessage("subject_id: expected servinfo's opaque subject id")
        try:
            subject = self._directory.get_subject(claimed)
        except UnknownSubject:
            return None
        return None if subject.erased else subject.subject_id

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
            status = derive(self._rights.get(row.rights_request_id))
            if status.status == "open" and at >= row.expires_at:
                status = self._expire(row, at)
            if (status.status, status.reason, status.processing_details) != (
                row.status,
                row.reason,
                row.processing_details,
            ):
                self._save(row.request_id, status, settled=status.status == "expired")
        self._notify(self._row(row.request_id), status)
        return status

    def _stored(self, row: Row[Any]) -> Status:
        """The status to tell the agent: settled on the DRP record, else the request's own."""
        if row.settled or row.rights_request_id is None:
            return Status(row.status, row.reason, row.processing_details)
        return derive(self._rights.get(row.rights_request_id))

    def _expire(self, row: Row[Any], at: dt.datetime) -> Status:
        try:
            self._rights.refuse(
                row.rights_request_id,
                "the authorized agent's request expired before the consumer confirmed "
                "their identity",
                actor=f"drp:{row.agent_id}",
                now=at,
            )
        except WrongState:  # verified meanwhile: it goes on
            return derive(self._rights.get(row.rights_request_id))
        return Status("expired")

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
