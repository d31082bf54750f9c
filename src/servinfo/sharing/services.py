"""The sharing service: the one way Service Information leaves IMS - Network.

For each of the notice's three bases it decides whether the basis holds at the
instant of the disclosure (``now`` is passed in), issues a grant for exactly
that read (:mod:`servinfo.access.grants`), reads through the access layer
(which decides again: need to know, contract scope, transfer mechanism, the
subject's objections and restriction), writes the disclosure register and the
audit log, and packages what was read:

* ``processor`` — a processor principal reads a subject within its contract;
  the contract (and a sub-processor's processor's) must be in force now;
* ``consent`` — a principal holding ``share_records`` discloses to a third
  party under the subject's explicit consent (:mod:`servinfo.sharing.consents`);
  the package is sealed to the recipient's key;
* ``legal_requirement`` — the approved scope of a reviewed legal request
  (:mod:`servinfo.sharing.legal`), sealed to the authority's key; the subject
  is told unless a gag order applies, and told when it lifts.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from servinfo.access.grants import Grant, GrantIssuer
from servinfo.access.principals import PrincipalService
from servinfo.access.reads import ReadRecord, ReadResult, ReadService
from servinfo.access.runtime import PolicyRuntime
from servinfo.audit import AuditSink
from servinfo.audit.buffer import AuditBuffer, Ticket
from servinfo.crypto import CryptoError, Keyring
from servinfo.crypto.recipients import decode_recipient_key, seal_package
from servinfo.ledgers import ConsentTerms, Disclosure, Ledgers, RecipientKind
from servinfo.policy.model import Policy
from servinfo.sharing import consents as consent_rules
from servinfo.sharing.contracts import require_in_force
from servinfo.sharing.errors import DisclosureDenied, InvalidSharingInput
from servinfo.sharing.legal import (
    LegalRequest,
    LegalRequestStore,
    LegalScope,
    ReviewDecision,
    new_request,
    reviewed,
    third_country_regions,
)
from servinfo.store import Principal, SubjectDirectory

__all__ = ["LEGAL_PURPOSE", "Package", "SharingService", "SubjectNotifier"]

#: The purpose a legal requirement is read for (the policy's ``legal``).
LEGAL_PURPOSE = "legal"
#: A gag order without an end: withheld until someone records that it lifted.
_UNTIL_LIFTED = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
SHARE_PERMISSION = "share_records"
#: The regime right that a Global Privacy Control signal exercises (CCPA 1798.120, 1798.135).
GPC_RIGHT = "opt_out"
REVIEW_PERMISSION = "review_legal_requests"


class SubjectNotifier:
    """Where a subject is told of a disclosure: a callable taking the subject id and the
    message's payload (the deployment passes the rights outbox)."""

    def __init__(self, send: Callable[[str, dict[str, Any], dt.datetime], str]) -> None:
        self._send = send

    def tell(self, subject_id: str, payload: dict[str, Any], at: dt.datetime) -> str:
        return self._send(subject_id, payload, at)


@dataclass(frozen=True)
class Package:
    """What left, described by its manifest; ``sealed`` for a third party or authority."""

    manifest: dict[str, Any]
    records: list[dict[str, Any]]
    disclosures: tuple[Disclosure, ...]
    #: Signed by the deployment and encrypted to the recipient's key; None for a processor,
    #: which receives the records over its authenticated connection.
    sealed: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"manifest": self.manifest}
        if self.sealed is None:
            body["records"] = self.records
        else:
            body["sealed"] = base64.b64encode(self.sealed).decode("ascii")
        return body


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class SharingService:
    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        reads: ReadService,
        ledgers: Ledgers,
        directory: SubjectDirectory,
        principals: PrincipalService,
        issuer: GrantIssuer,
        keyring: Keyring,
        audit: AuditSink,
        legal: LegalRequestStore,
        notifier: SubjectNotifier,
        buffer: AuditBuffer,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._runtime = runtime
        self._reads = reads
        self._ledgers = ledgers
        self._directory = directory
        self._principals = principals
        self._issuer = issuer
        self._keyring = keyring
        self._audit = audit
        self._legal = legal
        self._notifier = notifier
        self._buffer = buffer
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def _policy(self) -> Policy:
        return self._runtime.refresh().policy

    def _now(self, now: dt.datetime | None) -> dt.datetime:
        return now if now is not None else self._clock()

    # -- processor ---------------------------------------------------------------------

    def to_processor(
        self,
        principal: Principal,
        subject_id: str,
        purpose: str,
        categories: Sequence[str],
        *,
        now: dt.datetime | None = None,
    ) -> Package:
        """A processor principal's read of one subject, within its contract in force now."""
        at = self._now(now)
        if principal.kind != "processor":
            raise InvalidSharingInput(
                f"the processor basis is for processor principals, got a {principal.kind}"
            )
        wanted = self._categories(categories)
        recipient = principal.binding or principal.entity
        reference = require_in_force(self._policy(), recipient, at)
        assert recipient is not None
        grant = self._issuer.issue(
            recipient=recipient,
            basis="processor",
            reference=reference,
            subject_id=subject_id,
            purpose=purpose,
            categories=wanted,
        )
        records, disclosure = self._read_and_register(principal, grant, wanted, "processor", at=at)
        manifest = self._manifest(grant, "processor", records, at)
        return Package(manifest, [r.to_dict() for r in records], tuple(disclosure))

    # -- consent -----------------------------------------------------------------------

    def give_consent(
        self,
        subject_id: str,
        *,
        recipient: str,
        purpose: str,
        channel: str,
        recorded_by: str,
        request: dict[str, Any],
        expires_at: dt.datetime | None = None,
        country: str | None = None,
        risks: str | None = None,
        now: dt.datetime | None = None,
    ) -> Any:
        """Record the subject's explicit consent to disclosure to ``recipient`` for
        ``purpose``, against the wording the policy in force shows; the proof is who
        recorded it and the request, signed by the deployment."""
        at = self._now(now)
        policy = self._policy()
        if purpose not in policy.purposes:
            raise InvalidSharingInput(
                f"unknown purpose {purpose!r} (declared: {', '.join(sorted(policy.purposes))})"
            )
        wording = consent_rules.consent_wording(policy, recipient, purpose)
        signed = _canonical({"request": request, "wording": wording, "at": at.isoformat()})
        signature = self._keyring.signing_key().sign(signed)
        proof = json.dumps(
            {
                "recorded_by": recorded_by,
                "request_sha256": hashlib.sha256(signed).hexdigest(),
                "signature": base64.b64encode(signature).decode("ascii"),
            },
            sort_keys=True,
        )
        terms = ConsentTerms(
            wording_hash=consent_rules.wording_hash(wording),
            channel=channel,
            proof=proof,
            expires_at=expires_at,
            country=country,
            risks=risks,
        )
        return self._ledgers.give_consent(
            subject_id,
            recipient=recipient,
            purpose=purpose,
            notice_version=policy.version,
            actor=recorded_by,
            now=at,
            terms=terms,
        )

    def withdraw_consent(
        self,
        subject_id: str,
        *,
        recipient: str,
        purpose: str,
        actor: str,
        now: dt.datetime | None = None,
    ) -> Any:
        """Withdraw as easily as it was given: the same scope; it stops disclosures at once."""
        return self._ledgers.withdraw_consent(
            subject_id, recipient=recipient, purpose=purpose, actor=actor, now=self._now(now)
        )

    def honour_gpc(
        self, subject_id: str, *, source: str, actor: str, now: dt.datetime | None = None
    ) -> list[Any]:
        """A Global Privacy Control signal (``Sec-GPC: 1``) from the subject: where the
        subject's regime grants a right to opt out of sale or sharing (CCPA's ``opt_out``),
        every consent to disclosure in force is withdrawn, channel ``gpc``, as a withdrawal
        the subject made. Returns the withdrawals (none where no regime says so)."""
        at = self._now(now)
        policy = self._policy()
        subject = self._directory.get_subject(subject_id)
        regime = policy.regimes[policy.regime_for(subject.jurisdiction.upper())]
        if GPC_RIGHT not in regime.rights:
            return []
        proof = json.dumps({"signal": "Sec-GPC: 1", "source": source}, sort_keys=True)
        withdrawn = []
        for consent in self._ledgers.consents(subject_id):
            if consent.recipient is None:
                continue
            terms = ConsentTerms(
                wording_hash=consent.wording_hash or "", channel="gpc", proof=proof
            )
            withdrawn.append(
                self._ledgers.withdraw_consent(
                    subject_id,
                    recipient=consent.recipient,
                    purpose=consent.purpose,
                    actor=actor,
                    now=at,
                    terms=terms,
                )
            )
        return withdrawn

    def with_consent(
        self,
        operator: Principal,
        subject_id: str,
        *,
        recipient: str,
        recipient_country: str,
        recipient_key: str,
        purpose: str,
        categories: Sequence[str],
        now: dt.datetime | None = None,
    ) -> Package:
        """Disclose a subject's records to a third party under the subject's consent."""
        at = self._now(now)
        self._principals.require_permission(operator, SHARE_PERMISSION)
        key = _recipient_key(recipient_key)
        wanted = self._categories(categories)
        policy = self._policy()
        subject = self._directory.get_subject(subject_id)
        consent = consent_rules.consent_in_force(
            policy,
            self._ledgers.consents(subject_id, include_history=True),
            recipient=recipient,
            purpose=purpose,
            region=subject.home_region,
            country=recipient_country,
            when=at,
        )
        grant = self._issuer.issue(
            recipient=recipient,
            basis="consent",
            reference=consent.entry_id,
            subject_id=subject_id,
            purpose=purpose,
            categories=wanted,
        )
        records, disclosure = self._read_and_register(operator, grant, wanted, "third_party", at=at)
        manifest = self._manifest(grant, "consent", records, at)
        sealed = self._seal(manifest, records, key)
        return Package(manifest, [r.to_dict() for r in records], tuple(disclosure), sealed)

    # -- legal requests ----------------------------------------------------------------

    def intake(
        self,
        principal: Principal,
        *,
        authority: str,
        country: str,
        instrument: str,
        scope: LegalScope,
        deadline: dt.date,
        recipient_key: str,
        gag: bool = False,
        gag_until: dt.datetime | None = None,
        agreement: str | None = None,
        derogation: str | None = None,
        now: dt.datetime | None = None,
    ) -> LegalRequest:
        at = self._now(now)
        self._principals.require_permission(principal, SHARE_PERMISSION)
        _recipient_key(recipient_key)
        policy = self._policy()
        self._check_scope(policy, scope)
        if not authority.strip() or not instrument.strip():
            raise InvalidSharingInput("a legal request names its authority and instrument")
        if len(country) != 2 or not country.isalpha() or not country.isupper():
            raise InvalidSharingInput(f"country is an ISO 3166-1 alpha-2 code, got {country!r}")
        if gag_until is not None and not gag:
            raise InvalidSharingInput("a gag order's end is given only with --gag")
        request = new_request(
            authority=authority.strip(),
            country=country,
            instrument=instrument.strip(),
            scope=scope,
            deadline=deadline,
            gag=gag,
            gag_until=gag_until,
            agreement=agreement,
            derogation=derogation,
            recipient_key=recipient_key.strip(),
            intake_by=principal.name,
            at=at,
        )
        self._legal.add(request)
        self._audit_legal("intake", principal.name, request)
        return request

    def review(
        self,
        principal: Principal,
        request_id: str,
        *,
        decision: ReviewDecision,
        reasons: str,
        narrowed: LegalScope | None = None,
        now: dt.datetime | None = None,
    ) -> LegalRequest:
        at = self._now(now)
        self._principals.require_permission(principal, REVIEW_PERMISSION)
        request = self._legal.get(request_id)
        policy = self._policy()
        if narrowed is not None:
            self._check_scope(policy, narrowed)
        regions = [s.home_region for s in self._directory.subjects(request.scope.subjects).values()]
        try:
            after = reviewed(
                request,
                reviewer=principal.name,
                decision=decision,
                reasons=reasons,
                narrowed=narrowed,
                third_country_regions=third_country_regions(policy, request.country, regions),
                at=at,
            )
        except DisclosureDenied as refused:
            self._audit_legal("review_refused", principal.name, request, reason=str(refused))
            raise
        self._legal.move(request, after)
        self._audit_legal(after.state, principal.name, after)
        return after

    def disclose_legal(
        self,
        operator: Principal,
        request_id: str,
        *,
        scope: LegalScope | None = None,
        now: dt.datetime | None = None,
    ) -> Package:
        """Package the approved scope of a reviewed request (or a part of it), sealed to the
        authority's key; tell each subject unless a gag order applies."""
        at = self._now(now)
        self._principals.require_permission(operator, SHARE_PERMISSION)
        request = self._legal.get(request_id)
        if request.state not in ("approved", "narrowed") or request.approved_scope is None:
            self._audit_legal("disclosure_refused", operator.name, request, reason="not approved")
            raise DisclosureDenied(
                f"legal request {request_id!r} is {request.state}; only an approved or "
                "narrowed request is disclosed"
            )
        approved = request.approved_scope
        asked = scope or approved
        excess = asked.excess_over(approved)
        if excess:
            self._audit_legal("disclosure_refused", operator.name, request, reason="scope")
            raise DisclosureDenied(
                "the disclosure exceeds the approved scope: " + ", ".join(excess)
            )
        key = _recipient_key(request.recipient_key)
        gagged = request.gagged_at(at)
        withheld_until = (request.gag_until or _UNTIL_LIFTED) if gagged else None
        known = self._directory.subjects(asked.subjects)
        records: list[ReadRecord] = []
        disclosures: list[Disclosure] = []
        grants: list[Grant] = []
        for subject_id in asked.subjects:
            if subject_id not in known:
                continue  # the manifest says which subjects had nothing
            grant = self._issuer.issue(
                recipient=_authority_id(request),
                basis="legal_requirement",
                reference=request.request_id,
                subject_id=subject_id,
                purpose=LEGAL_PURPOSE,
                categories=asked.categories,
                withheld=gagged,
            )
            read, registered = self._read_and_register(
                operator,
                grant,
                list(asked.categories),
                "authority",
                at=at,
                since=asked.since,
                until=asked.until,
                withheld_until=withheld_until,
            )
            records.extend(read)
            grants.append(grant)
            disclosures.extend(registered)
            if not gagged:
                self._tell_subject(request, subject_id, read, at)
        manifest = self._manifest(grants[0] if grants else None, "legal_requirement", records, at)
        manifest["legal_request"] = {
            "id": request.request_id,
            "authority": request.authority,
            "country": request.country,
            "instrument": request.instrument,
            "scope": asked.to_dict(),
            "subjects_without_records": sorted(set(asked.subjects) - {r.subject for r in records}),
        }
        sealed = self._seal(manifest, records, key)
        after = replace(request, state="disclosed", disclosed_by=operator.name, disclosed_at=at)
        self._legal.move(request, after)
        self._audit_legal("disclosed", operator.name, after, count=len(records))
        return Package(manifest, [r.to_dict() for r in records], tuple(disclosures), sealed)

    def lift_gag(
        self, principal: Principal, request_id: str, *, now: dt.datetime | None = None
    ) -> LegalRequest:
        """Record that a request's gag order ended: its disclosures show from now on, and
        each subject is told."""
        at = self._now(now)
        self._principals.require_permission(principal, SHARE_PERMISSION)
        request = self._legal.get(request_id)
        if not request.gag or request.gag_lifted_at is not None:
            raise InvalidSharingInput(f"legal request {request_id!r} has no gag order in force")
        after = replace(request, gag_lifted_at=at)
        self._legal.move(request, after)
        released = self._ledgers.release_withheld(request.request_id, now=at)
        for disclosure in released:
            self._tell_subject(after, disclosure.subject_id, None, at, lifted=True)
        self._audit_legal("gag_lifted", principal.name, after, count=len(released))
        return after

    def legal_requests(self) -> list[LegalRequest]:
        return self._legal.all()

    def legal_request(self, request_id: str) -> LegalRequest:
        return self._legal.get(request_id)

    # -- steps -------------------------------------------------------------------------

    def _categories(self, categories: Sequence[str]) -> list[str]:
        wanted = list(dict.fromkeys(categories))
        if not wanted:
            raise InvalidSharingInput("a disclosure names its categories; got none")
        return wanted

    @staticmethod
    def _check_scope(policy: Policy, scope: LegalScope) -> None:
        if not scope.subjects or not scope.categories:
            raise InvalidSharingInput("a legal request's scope names subjects and categories")
        unknown = [c for c in scope.categories if c not in policy.categories]
        if unknown:
            declared = ", ".join(sorted(policy.categories))
            raise InvalidSharingInput(f"unknown category {unknown[0]!r} (declared: {declared})")
        if scope.since and scope.until and scope.until < scope.since:
            raise InvalidSharingInput("a scope's period ends before it starts")

    def _read_and_register(
        self,
        principal: Principal,
        grant: Grant,
        categories: list[str],
        kind: RecipientKind,
        *,
        at: dt.datetime,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        withheld_until: dt.datetime | None = None,
    ) -> tuple[list[ReadRecord], list[Disclosure]]:
        """Read under ``grant`` through the access layer and register the disclosure; the
        register's audit entry joins the read's group commit, and nothing is returned
        before every entry of both is committed."""
        held = self._reads.read_subject_held(
            principal, grant.purpose, grant.subject_id, categories=categories, since=since,
            until=until, grant=grant,
        )  # fmt: skip

        def register(
            result: ReadResult,
        ) -> tuple[list[Ticket], tuple[list[ReadRecord], list[Disclosure]]]:
            tickets: list[Ticket] = []
            disclosures = self._register(
                grant, kind, result.records, actor=principal.name, at=at,
                withheld_until=withheld_until, audit=_JoinedAudit(self._buffer, tickets),
            )  # fmt: skip
            return tickets, (result.records, disclosures)

        return held.then(register).wait()

    def _register(
        self,
        grant: Grant,
        kind: RecipientKind,
        records: Sequence[ReadRecord],
        *,
        actor: str,
        at: dt.datetime,
        withheld_until: dt.datetime | None = None,
        audit: _JoinedAudit | None = None,
    ) -> list[Disclosure]:
        if not records:
            return []
        return [
            self._ledgers.register_disclosure(
                recipient=grant.recipient,
                recipient_kind=kind,
                basis=grant.basis,
                subject_id=grant.subject_id,
                categories=sorted({r.category for r in records}),
                purpose=grant.purpose,
                record_count=len(records),
                actor=actor,
                reference=grant.reference,
                now=at,
                withheld_until=withheld_until,
                audit=audit,
            )
        ]

    def _manifest(
        self, grant: Grant | None, basis: str, records: Sequence[ReadRecord], at: dt.datetime
    ) -> dict[str, Any]:
        per_category: dict[str, int] = {}
        for r in records:
            per_category[r.category] = per_category.get(r.category, 0) + 1
        return {
            "format": "servinfo-disclosure/1",
            "basis": basis,
            "recipient": grant.recipient if grant else None,
            "reference": grant.reference if grant else None,
            "purpose": grant.purpose if grant else LEGAL_PURPOSE,
            "created_at": at.isoformat(),
            "policy_version": self._policy().version,
            "record_count": len(records),
            "records_by_category": per_category,
            "records_sha256": hashlib.sha256(
                _canonical([r.to_dict() for r in records])
            ).hexdigest(),
            "signing_key": base64.b64encode(self._keyring.verify_key_bytes()).decode("ascii"),
        }

    def _seal(self, manifest: dict[str, Any], records: Sequence[ReadRecord], key: bytes) -> bytes:
        content = _canonical({"manifest": manifest, "records": [r.to_dict() for r in records]})
        return seal_package(content, self._keyring.signing_key(), key)

    def _tell_subject(
        self,
        request: LegalRequest,
        subject_id: str,
        records: Sequence[ReadRecord] | None,
        at: dt.datetime,
        *,
        lifted: bool = False,
    ) -> None:
        payload: dict[str, Any] = {
            "subject": subject_id,
            "authority": request.authority,
            "country": request.country,
            "instrument": request.instrument,
            "legal_request": request.request_id,
            "disclosed_at": (request.disclosed_at or at).isoformat(),
        }
        if records is not None:
            payload["categories"] = sorted({r.category for r in records})
            payload["record_count"] = len(records)
        if lifted:
            payload["gag_lifted"] = True
        self._notifier.tell(subject_id, payload, at)

    def _audit_legal(
        self, step: str, actor: str, request: LegalRequest, **extra: str | int
    ) -> None:
        self._audit.record(
            "legal_request",
            actor=actor,
            purpose=LEGAL_PURPOSE,
            outcome=step,
            details={
                "request": request.request_id,
                "authority": request.authority,
                "country": request.country,
                "state": request.state,
                "subjects": len(request.scope.subjects),
                "gag": request.gag,
                **extra,
            },
        )


class _JoinedAudit:
    """The read's group-commit buffer, keeping the tickets of the entries written to it."""

    def __init__(self, buffer: AuditBuffer, tickets: list[Ticket]) -> None:
        self._buffer = buffer
        self._tickets = tickets

    def record(self, action: str, **fields: Any) -> Ticket:
        ticket = self._buffer.record(action, **fields)
        self._tickets.append(ticket)
        return ticket


def _recipient_key(text: str) -> bytes:
    """The recipient's public key, or the caller's mistake (422), never a server error."""
    try:
        return decode_recipient_key(text)
    except CryptoError as error:
        raise InvalidSharingInput(f"recipient key: {error}") from None


def _authority_id(request: LegalRequest) -> str:
    """The recipient id a legal request's authority is registered under."""
    return f"authority:{request.request_id}"
