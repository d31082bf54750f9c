"""The one read path: decide, read, decrypt, narrow to the purpose, audit.

Every read of Service Information names a purpose and passes here; no other
module imports the store's read operations (a test scans the package). The
order matters: the decision is made from plaintext columns only (subject,
category, region), so a denied read never decrypts anything; every decision is
audited, allowed or not.

Nothing leaves without a grant: a principal outside the organisation
(:data:`~servinfo.access.grants.OUTSIDE_KINDS`) reads only with a
:class:`~servinfo.access.grants.Grant` that covers the read, which the sharing
service alone issues (and which then writes the disclosure register). Without
one, the read is refused before any subject or record is looked up
(:class:`~servinfo.access.grants.GrantRequired`), whatever route or command asks.

No answer before its record: the entries go to the group-committed
:class:`~servinfo.audit.buffer.AuditBuffer`, and every method here waits for
the commit of the group holding its entries before it returns data, a
decision or a denial. Each has a ``…_held`` twin that returns the answer held
(:class:`~servinfo.audit.buffer.Held`) for an event loop to await, so that a
request waiting for the commit holds no thread. If the append fails, the
answer is :class:`~servinfo.audit.buffer.AuditUnavailable` (503) and nothing
read leaves the server.

Nothing about a subject before standing: a subject's ledger state is loaded
only through :meth:`ReadService._admit`, which first asks whether the principal
may read that subject for some purpose
(:func:`~servinfo.access.decisions.has_standing`). Without standing, a subject
that exists gets exactly the answer an id that exists nowhere gets
(:class:`~servinfo.access.errors.NoSuchSubject`, or
:class:`~servinfo.access.errors.NoSuchRecord` for a record), after the same
steps: one directory (or record) lookup and one audit entry that names no
subject. So a denial's reasons (an objection, a restriction) reach only
principals with standing, on every route and command that reads or explains.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Protocol

from sqlalchemy import Engine

from servinfo.access import _reasons as R
from servinfo.access._reasons import Reason
from servinfo.access.compile import SELF_KINDS
from servinfo.access.decisions import Actor, Decision, SubjectState
from servinfo.access.errors import Denied, NoSuchRecord, NoSuchSubject, PurposeRequired
from servinfo.access.grants import Grant, GrantRequired, GrantVerifier, is_outside
from servinfo.access.metrics import DECISION_SECONDS, DECISIONS
from servinfo.access.runtime import PolicyRuntime
from servinfo.audit.buffer import AuditBuffer, Held, Ticket
from servinfo.crypto import Keyring
from servinfo.policy import UnknownPolicyElement
from servinfo.store import Principal, SubjectDirectory
from servinfo.store.errors import RecordNotFound
from servinfo.store.reading import RecordReader, StoredRecord

_ALLOWED, _DENIED = DECISIONS.labels("allow"), DECISIONS.labels("deny")
_OBSERVE_DECISION = DECISION_SECONDS.observe


class SubjectStates(Protocol):
    """Where a subject's objections, restriction, consents and requests come from."""

    def subject_state(self, subject_id: str) -> SubjectState: ...


@dataclass(frozen=True)
class ReadRecord:
    """A record as the purpose may see it."""

    record_id: str
    subject: str
    category: str
    kind: str
    region: str
    collected_at: dt.datetime
    fields: dict[str, Any]
    #: Past its retention, kept by a legal hold or an open request (the access report says so).
    kept: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.record_id,
            "subject": self.subject,
            "category": self.category,
            "kind": self.kind,
            "region": self.region,
            "collected_at": self.collected_at.isoformat(),
            "fields": self.fields,
        }


@dataclass(frozen=True)
class ReadResult:
    purpose: str
    records: list[ReadRecord]
    decisions: dict[str, Decision] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "records": [r.to_dict() for r in self.records],
            "decisions": {
                category: {
                    "allowed": d.allowed,
                    "mechanism": d.mechanism,
                    "reasons": list(d.texts),
                }
                for category, d in self.decisions.items()
            },
        }


class ReadService:
    def __init__(
        self,
        runtime: PolicyRuntime,
        directory: SubjectDirectory,
        region_engines: Mapping[str, Engine],
        keyring: Keyring,
        states: SubjectStates,
        audit: AuditBuffer,
        grants: GrantVerifier | None = None,
        *,
        today: Callable[[], dt.date] | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._runtime = runtime
        # The reader is built here and nowhere else: access is its only user.
        # ``today`` decides which records are past retention (tests pass a clock).
        self._reader = RecordReader(directory, region_engines, keyring, today=today)
        self._directory = directory
        self._states = states
        self._audit = audit
        # Without a verifier no grant is genuine: outside principals read nothing.
        self._grants = grants
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        # The last principal's actor: a worker reads for one principal many times
        # in a row, and a frozen principal always makes the same actor.
        self._last_actor: tuple[Principal, Actor] | None = None

    def explain(
        self,
        principal: Principal,
        purpose: str | None,
        category: str,
        region: str,
        subject_id: str | None = None,
        *,
        grant: Grant | None = None,
    ) -> Decision:
        """The decision on a read, with every reason, without reading data (audited)."""
        return self.explain_held(
            principal, purpose, category, region, subject_id, grant=grant
        ).wait()

    def explain_held(
        self,
        principal: Principal,
        purpose: str | None,
        category: str,
        region: str,
        subject_id: str | None = None,
        *,
        grant: Grant | None = None,
    ) -> Held[Decision]:
        """:meth:`explain`, held until its audit entry is committed.

        Explaining the policy alone tells nothing about anyone; explaining a read of a
        subject tells its ledgers, so an outside principal needs a grant for it."""
        purpose = self._require_purpose(purpose)
        if subject_id is not None and not self._granted(
            principal, grant, subject_id, purpose, [category]
        ):
            return self._refuse(principal, purpose, R.NO_GRANT, GrantRequired())
        if subject_id is not None:
            admitted = self._admit_subject(principal, subject_id)
            if admitted is None:
                return self._refuse(principal, purpose, R.NO_SUCH_SUBJECT, NoSuchSubject())
            state = admitted[1]
        else:
            state = SubjectState.unrestricted("-", self._runtime.current.policy.default_regime)
        decision = self._decide(principal, purpose, category, region, state)
        ticket = self._audit_decision(
            principal, purpose, category, region, subject_id, decision, explain=True
        )
        return Held([ticket], decision)

    def read_subject(
        self,
        principal: Principal,
        purpose: str | None,
        subject_id: str,
        *,
        categories: Collection[str] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
        grant: Grant | None = None,
    ) -> ReadResult:
        """A subject's records in the categories the purpose may read.

        Categories named explicitly must all be allowed (403 otherwise); without
        them, every category the purpose uses is decided and the allowed ones read.
        An outside principal needs ``grant``, covering every category read.
        """
        return self.read_subject_held(
            principal, purpose, subject_id, categories=categories, since=since, until=until,
            limit=limit, grant=grant,
        ).wait()  # fmt: skip

    def read_subject_held(
        self,
        principal: Principal,
        purpose: str | None,
        subject_id: str,
        *,
        categories: Collection[str] | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
        grant: Grant | None = None,
    ) -> Held[ReadResult]:
        """:meth:`read_subject`, held until its audit entries are committed."""
        purpose = self._require_purpose(purpose)
        enforced = self._runtime.current
        wanted = (
            list(categories) if categories else list(enforced.policy.purposes[purpose].categories)
        )
        # The request's own mistakes first: they are answered alike whoever the subject is.
        for category in wanted:
            if category not in enforced.policy.categories:
                raise UnknownPolicyElement("category", category, sorted(enforced.policy.categories))
        if not self._granted(principal, grant, subject_id, purpose, wanted):
            return self._refuse(principal, purpose, R.NO_GRANT, GrantRequired())
        admitted = self._admit_subject(principal, subject_id)
        if admitted is None:
            return self._refuse(principal, purpose, R.NO_SUCH_SUBJECT, NoSuchSubject())
        home_region, state = admitted
        decisions = {c: self._decide(principal, purpose, c, home_region, state) for c in wanted}
        # Under a gag order the entries name no subject until it lifts (access.grants).
        named = None if grant is not None and grant.withheld else subject_id
        tickets = [
            self._audit_decision(principal, purpose, category, home_region, named, decision)
            for category, decision in decisions.items()
        ]
        allowed = [c for c, d in decisions.items() if d.allowed]
        denied = [d for d in decisions.values() if not d.allowed]
        if denied and (categories or not allowed):
            return Held(tickets, error=Denied(sorted({str(r) for d in denied for r in d.failures})))
        stored = self._reader.iter_by_subject(
            subject_id, categories=allowed, since=since, until=until, limit=limit
        )
        records = self._narrow_subject(purpose, subject_id, stored)
        tickets.append(
            self._audit_read(principal, purpose, subject_id, home_region, records, grant)
        )
        return Held(tickets, ReadResult(purpose, records, decisions))

    def read_record(
        self,
        principal: Principal,
        purpose: str | None,
        record_id: str,
        *,
        grant: Grant | None = None,
    ) -> ReadResult:
        return self.read_record_held(principal, purpose, record_id, grant=grant).wait()

    def read_record_held(
        self,
        principal: Principal,
        purpose: str | None,
        record_id: str,
        *,
        grant: Grant | None = None,
    ) -> Held[ReadResult]:
        """:meth:`read_record`, held until its audit entries are committed.

        An outside principal without a grant is refused before the record is looked
        up; with one, a record its grant does not cover is answered as one that does
        not exist."""
        purpose = self._require_purpose(purpose)
        if is_outside(principal.kind) and grant is None:
            return self._refuse(principal, purpose, R.NO_GRANT, GrantRequired())
        try:
            sealed = self._reader.fetch(record_id)
        except RecordNotFound:
            state = None
        else:
            # A record lives in its subject's home region: no directory lookup on this path.
            covered = self._granted(principal, grant, sealed.subject_id, purpose, [sealed.category])
            state = self._admit(principal, sealed.subject_id, sealed.region) if covered else None
        if state is None:
            return self._refuse(principal, purpose, R.NO_SUCH_RECORD, NoSuchRecord())
        decision = self._decide(principal, purpose, sealed.category, sealed.region, state)
        ticket = self._audit_decision(
            principal, purpose, sealed.category, sealed.region, sealed.subject_id, decision
        )
        if not decision.allowed:
            return Held([ticket], error=Denied([str(r) for r in decision.failures]))
        stored = [self._reader.open(sealed)]
        return self._deliver(
            principal,
            purpose,
            sealed.subject_id,
            sealed.region,
            stored,
            {sealed.category: decision},
            ticket,
            grant,
        )

    # -- steps ---------------------------------------------------------------------

    def _require_purpose(self, purpose: str | None) -> str:
        policy = self._runtime.refresh().policy
        if not purpose:
            raise PurposeRequired(sorted(policy.purposes))
        if purpose not in policy.purposes:
            raise UnknownPolicyElement("purpose", purpose, sorted(policy.purposes))
        return purpose

    def _granted(
        self,
        principal: Principal,
        grant: Grant | None,
        subject_id: str,
        purpose: str,
        categories: Collection[str],
    ) -> bool:
        """Whether ``principal`` may go on: any principal of the organisation, and an
        outside one whose grant is genuine and covers this very read."""
        if not is_outside(principal.kind):
            return True
        if self._grants is None:
            return False
        return self._grants.covers(
            grant,
            recipient=principal.binding or principal.entity,
            subject_id=subject_id,
            purpose=purpose,
            categories=categories,
            now=self._clock(),
        )

    def _admit_subject(
        self, principal: Principal, subject_id: str
    ) -> tuple[str, SubjectState] | None:
        """The subject's home region and ledger state, if ``principal`` has standing
        towards it; None, after the same one lookup, for a subject that does not exist."""
        subject = self._directory.subjects([subject_id]).get(subject_id)
        if subject is None:
            return None
        state = self._admit(principal, subject_id, subject.home_region)
        return None if state is None else (subject.home_region, state)

    def _admit(
        self, principal: Principal, subject_id: str, home_region: str
    ) -> SubjectState | None:
        """The only way to a subject's ledger state: None unless ``principal`` may read
        the subject for some purpose. Standing is decided before any ledger is read, so
        a refusal costs the same whatever the subject's ledgers hold."""
        actor = self._actor(principal)
        if not self._runtime.decider.has_standing(actor, subject_id, home_region):
            return None
        return self._states.subject_state(subject_id)

    def _refuse(
        self,
        principal: Principal,
        purpose: str,
        reason: Reason,
        error: NoSuchSubject | NoSuchRecord | GrantRequired,
    ) -> Held[Any]:
        """The one answer to a lookup without standing, or of an id that exists nowhere:
        audited (so probing shows in the log) without the id asked, since a pseudonym would
        need a salt for whatever id was asked, and held for its commit like any denial.
        A subject's own principal (or its agent) that probes is named only by a reference
        in an entry about its own subject: its name is personal data, unlinked at erasure."""
        own = _own_subject(principal)
        ticket = self._audit.record(
            "decision",
            actor=principal.name,
            subject_id=own,
            purpose=purpose,
            outcome="deny",
            reasons=[reason.text],
            details={"lookup": reason.code},
            subject_actor=own is not None,
            policy_version=self._policy_version(),
        )
        _DENIED.inc()
        return Held([ticket], error=error)

    def _policy_version(self) -> str:
        """The version of the policy decisions are made under now (entries name it)."""
        return self._runtime.current.policy.version

    def _actor(self, principal: Principal) -> Actor:
        last = self._last_actor
        if last is not None and last[0] is principal:
            return last[1]
        actor = Actor.from_principal(principal)
        self._last_actor = (principal, actor)
        return actor

    def _decide(
        self, principal: Principal, purpose: str, category: str, region: str, state: SubjectState
    ) -> Decision:
        actor = self._actor(principal)
        start = perf_counter()
        decision = self._runtime.decider.decide(actor, purpose, category, region, state)
        # What ``DECISION_SECONDS.time()`` measures, without a timer object per read.
        _OBSERVE_DECISION(perf_counter() - start)
        (_ALLOWED if decision.allowed else _DENIED).inc()
        return decision

    def _audit_decision(
        self,
        principal: Principal,
        purpose: str,
        category: str,
        region: str,
        subject_id: str | None,
        decision: Decision,
        *,
        explain: bool = False,
    ) -> Ticket:
        details = _who_and_where(principal, region)
        details["category"] = category
        if decision.mechanism:
            details["mechanism"] = decision.mechanism
        if explain:
            details["explain"] = True
        own = _own_subject(principal)
        if subject_id is None:
            subject_id = own  # an explanation asked by a subject's principal is about them
        return self._audit.record(
            "decision",
            actor=principal.name,
            subject_id=subject_id,
            purpose=purpose,
            outcome="allow" if decision.allowed else "deny",
            reasons=[str(r) for r in (decision.reasons if decision.allowed else decision.failures)],
            details=details,
            subject_actor=subject_id is not None and principal.kind in SELF_KINDS,
            policy_version=self._policy_version(),
        )

    def _deliver(
        self,
        principal: Principal,
        purpose: str,
        subject_id: str,
        region: str,
        stored: list[StoredRecord],
        decisions: dict[str, Decision],
        decided: Ticket,
        grant: Grant | None = None,
    ) -> Held[ReadResult]:
        views = self._runtime.current.views
        records = [
            ReadRecord(
                record_id=r.record_id,
                subject=views.subject_label(purpose, r.kind, r.subject_id),
                category=r.category,
                kind=r.kind,
                region=r.region,
                collected_at=r.collected_at,
                fields=views.apply(purpose, r.kind, r.fields),
                kept=r.legal_hold,
            )
            for r in stored
        ]
        read = self._audit_read(principal, purpose, subject_id, region, records, grant)
        return Held([decided, read], ReadResult(purpose, records, decisions))

    def _narrow_subject(
        self, purpose: str, subject_id: str, stored: Iterable[StoredRecord]
    ) -> list[ReadRecord]:
        """One subject's records as ``purpose`` may see them, the view looked up once a kind.

        The same result as :meth:`_deliver`'s per-record ``apply``; a subject may
        hold 100,000 records of a dozen kinds, so the plan and the subject's
        label are found once per kind, and a kind the purpose sees whole has its
        fields copied rather than filtered field by field.
        """
        views = self._runtime.current.views
        per_kind: dict[str, tuple[str, bool]] = {}
        records: list[ReadRecord] = []
        append = records.append
        for r in stored:
            kind = r.kind
            known = per_kind.get(kind)
            if known is None:
                plan = views.plan(purpose, kind)
                whole = plan.shown is None and not plan.pseudonymize and not plan.truncate
                label = views.subject_label(purpose, kind, subject_id)
                known = per_kind[kind] = (label, whole)
            label, whole = known
            if r.subject_id != subject_id:  # never, but a label must not be wrong
                label = views.subject_label(purpose, kind, r.subject_id)
            fields = dict(r.fields) if whole else views.apply(purpose, kind, r.fields)
            append(
                ReadRecord(
                    r.record_id,
                    label,
                    r.category,
                    kind,
                    r.region,
                    r.collected_at,
                    fields,
                    r.legal_hold,
                )
            )
        return records

    def _audit_read(
        self,
        principal: Principal,
        purpose: str,
        subject_id: str,
        region: str,
        records: list[ReadRecord],
        grant: Grant | None = None,
    ) -> Ticket:
        """The read's audit entry (one for the whole read); a granted read names its basis
        (the sharing service registers the disclosure itself)."""
        details = _who_and_where(principal, region)
        details["count"] = len(records)
        withheld = grant is not None and grant.withheld
        if grant is not None:
            details["basis"] = grant.basis
            details["grant"] = grant.grant_id
            if withheld:
                details["reference"] = grant.reference
                details["withheld"] = True
        return self._audit.record(
            "read",
            actor=principal.name,
            subject_id=None if withheld else subject_id,
            purpose=purpose,
            outcome="allow",
            record_ids=[] if withheld else [r.record_id for r in records],
            details=details,
            subject_actor=principal.kind in SELF_KINDS,
            policy_version=self._policy_version(),
        )


def _own_subject(principal: Principal) -> str | None:
    """The subject a subject's own principal or authorized agent acts for; None for staff,
    services and processors (they stay named in the log)."""
    return principal.binding if principal.kind in SELF_KINDS else None


def _who_and_where(principal: Principal, region: str) -> dict[str, str | int | bool | None]:
    """What the person's history shows of a decision or read beside the actor: the
    principal's role and legal entity (a processor's: its id) and the data's region
    (with ``mechanism``: whether the data crossed to another entity's region, and how)."""
    return {"role": principal.role, "legal_entity": principal.entity, "region": region}
