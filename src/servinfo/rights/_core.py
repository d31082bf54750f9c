"""What every part of the request machinery shares: collaborators, state changes, auditing.

Every change of a request is one control-database transaction that checks the
state it starts from (compare-and-set) and, because the rights role may read a
subject's data only while a request of theirs is open and verified, bumps the
subject's ledger version so that no cached access decision outlives the
change. The change is audited as ``request_change`` once committed (the audit
log appends to the control database too; see :mod:`servinfo.ledgers._base`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Engine

from servinfo.access.compile import SELF_KINDS
from servinfo.access.identifiers import SubjectFinder
from servinfo.access.reads import ReadService
from servinfo.audit import AuditSink
from servinfo.crypto import Keyring, hash_token, new_token
from servinfo.ledgers import Ledgers, bump_version
from servinfo.policy.model import Policy
from servinfo.rights import _store
from servinfo.rights.contact import ContactMessages, ContactReads
from servinfo.rights.delivery import NoEmailSender, NoSmsSender
from servinfo.rights.entries import Request
from servinfo.rights.errors import InvalidRequest
from servinfo.rights.exports import ExportVault
from servinfo.rights.history import HistorySource
from servinfo.rights.notifier import NoticeKind, Notifier
from servinfo.store import (
    DuplicatePrincipal,
    Principal,
    PrincipalStore,
    RecordWriter,
    SubjectDirectory,
    UnknownPrincipal,
)
from servinfo.store.engines import write_transaction

__all__ = ["READING_TYPES", "RIGHTS_PRINCIPAL", "ForgettingAudit", "RightsCore"]

#: The internal principal that reads for requests; it has no usable token.
RIGHTS_PRINCIPAL = "servinfo-rights"
_RIGHTS_ROLE = "rights"
#: How an authorized agent without a principal of its own is named as an actor.
_AGENT_ACTOR_PREFIX = "drp:"
#: Request types whose fulfilment reads the subject's records: only these open the
#: rights role's access to them (least privilege: an objection needs no read).
READING_TYPES = ("access", "portability", "rectification", "erasure")


class ForgettingAudit(AuditSink, Protocol):
    def forget_subject(self, subject_id: str) -> bool: ...


#: ``(subject_id, kept classes, held, at)``: called before an erasure destroys keys; what
#: it returns (the shred-ledger row) is named in the erasure's audit entry.
BeforeShred = Callable[[str, Sequence[str], bool, dt.datetime], str]


class RightsCore:
    """Holds the collaborators; :class:`~servinfo.rights.service.RightsService` extends it."""

    def __init__(
        self,
        *,
        engine: Engine,
        policy: Callable[[], Policy],
        directory: SubjectDirectory,
        writer: RecordWriter,
        reads: ReadService,
        ledgers: Ledgers,
        audit: ForgettingAudit,
        principals: PrincipalStore,
        keyring: Keyring,
        notifier: Notifier,
        flush_audit: Callable[[], None] = lambda: None,
        forget_caches: Sequence[Callable[[], None]] = (),
        finder: SubjectFinder | None = None,
        messages: ContactMessages | None = None,
        export_ttl: dt.timedelta = dt.timedelta(days=30),
        history: HistorySource | None = None,
        before_shred: BeforeShred | None = None,
    ) -> None:
        self._engine = engine
        # A provider, not a policy: a reloaded policy applies to the next request.
        self._policy = policy
        self._directory = directory
        self._writer = writer
        self._reads = reads
        self._ledgers = ledgers
        self._audit = audit
        self._principals = principals
        self._notifier = notifier
        self._flush_audit = flush_audit
        self._forget_caches = tuple(forget_caches)
        self.exports = ExportVault(engine, keyring, export_ttl)
        # Subjects by what they know (requests opened with an e-mail address), and the
        # messages servinfo sends people itself (codes, answers): none configured, none sent.
        self._finder = finder
        self._messages = messages or ContactMessages(
            NoEmailSender(), NoSmsSender(), sender="", organization=""
        )
        self.contact_reads = ContactReads(self._states_changed)
        # The audit log's entries about a subject, with their proofs, for access exports.
        self._history = history
        # Told of each erasure before its keys are destroyed (the deployment's shred ledger).
        self._before_shred = before_shred

    @property
    def notifier(self) -> Notifier:
        return self._notifier

    # -- what access decisions ask ------------------------------------------------------

    def has_open_verified_request(self, subject_id: str) -> bool:
        """Whether the subject has a verified request under way that needs their records.

        Wired as the ledgers' ``open_request_check``: the rights role reads only then, and
        while the request machinery reads a subject's contact fields to send them a code
        (:class:`~servinfo.rights.contact.ContactReads`).
        """
        if subject_id in self.contact_reads:
            return True
        return _store.any_in(self._engine, subject_id, ("verified", "in_progress"), READING_TYPES)

    def _states_changed(self) -> None:
        # This process's cached subject states go at once (the rights role's contact door).
        self._ledgers.local_changes += 1

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def _utc(now: dt.datetime | None) -> dt.datetime:
        if now is None:
            return dt.datetime.now(dt.UTC)
        if now.tzinfo is None:
            raise InvalidRequest(f"naive time {now.isoformat()}; expected a timezone-aware one")
        return now.astimezone(dt.UTC)

    def get(self, request_id: str) -> Request:
        """The request (:class:`~servinfo.rights.errors.RequestNotFound` otherwise)."""
        with self._engine.connect() as connection:
            return _store.load(connection, request_id)

    def _change(
        self,
        request: Request,
        expected: tuple[str, ...],
        action: str,
        *,
        actor: str,
        **values: Any,
    ) -> Request:
        """Move ``request`` on, if it is still in an ``expected`` state; audited."""
        with write_transaction(self._engine) as connection:
            _store.transition(connection, request, expected, action, **values)
            bump_version(connection, request.subject_id)
        # This process's cached subject states go at once; others' within their interval.
        self._ledgers.local_changes += 1
        changed = self.get(request.request_id)
        self._audited(changed, action, actor)
        return changed

    def _audited(self, request: Request, change: str, actor: str) -> None:
        self._audit.record(
            "request_change",
            actor=actor,
            subject_id=request.subject_id,
            outcome=request.state,
            details={
                "type": request.type,
                "change": change,
                "regime": request.regime,
                "flagged": request.flagged,
            },
            linked={"request_id": request.request_id},
            subject_actor=self._acts_for_subject(actor, request.subject_id),
        )

    def _acts_for_subject(self, actor: str, subject_id: str) -> bool:
        """Whether ``actor`` is the subject's own principal or an authorized agent (its name
        is then logged keyed with the subject's salt, like the request's id)."""
        if actor.startswith(_AGENT_ACTOR_PREFIX):  # a DRP agent without a principal
            return True
        try:
            principal = self._principals.get(actor)
        except UnknownPrincipal:
            return False  # a staff member's or a service's name that is not a principal
        if principal.kind == "subject":
            return principal.binding == subject_id
        return principal.kind in SELF_KINDS

    def _notify(
        self,
        kind: NoticeKind,
        recipient: str,
        payload: Mapping[str, Any],
        request: Request | None,
        now: dt.datetime,
    ) -> str:
        return self._notifier.notify(
            kind,
            recipient,
            payload,
            request_id=request.request_id if request else None,
            now=now,
        )

    def rights_principal(self) -> Principal:
        """The internal ``rights`` service principal, created at first use.

        It is written to the principal store directly, with the hash of a token
        that is thrown away: nobody can authenticate as it, and it is not bound
        to a reporting service (which is what ``PrincipalService.add`` requires of
        a service). Its reads still pass the access layer: decided, audited.
        """
        try:
            return self._principals.get(RIGHTS_PRINCIPAL)
        except UnknownPrincipal:
            pass
        role = self._policy().roles.get(_RIGHTS_ROLE)
        if role is None or "service" not in role.principal_kinds:
            raise InvalidRequest(
                f"the policy needs a role {_RIGHTS_ROLE!r} for service principals to fulfil "
                "access, portability, rectification and erasure requests"
            )
        try:
            principal = self._principals.add(
                RIGHTS_PRINCIPAL, "service", _RIGHTS_ROLE, None, None, hash_token(new_token())
            )
        except DuplicatePrincipal:  # created concurrently
            return self._principals.get(RIGHTS_PRINCIPAL)
        self._audit.record(
            "principal_change",
            actor=RIGHTS_PRINCIPAL,
            outcome="added",
            details={"principal": RIGHTS_PRINCIPAL, "kind": "service", "role": _RIGHTS_ROLE},
        )
        return principal
