"""The consent ledger: consent to a purpose, or to disclosure to one recipient.

GDPR Art. 7(3) asks that withdrawing consent be as easy as giving it, so
:meth:`ConsentLedger.withdraw_consent` takes the same arguments as
:meth:`ConsentLedger.give_consent`. Consents are an event log: each give and
withdrawal is a row, and the latest row of a scope (by the subject's ledger
version) says whether the consent is in force. Each row names the policy
version whose notice the subject saw, which is what made the consent informed.

A consent to disclosure names the recipient and may name the purpose too
(granular: one recipient, one purpose), with its terms (:class:`ConsentTerms`):
the hash of the exact wording shown, the channel, the proof, an end, and the
country and risks where no transfer mechanism covers the recipient's country.
What those terms must hold for a disclosure is the sharing service's to judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from ulid import ULID

from servinfo.ledgers import _checks, _queries
from servinfo.ledgers._base import LedgerService
from servinfo.ledgers.entries import Consent, ConsentState
from servinfo.ledgers.errors import AlreadyInForce, InvalidLedgerInput, NotInForce
from servinfo.ledgers.models import ConsentRow
from servinfo.policy.model import Policy
from servinfo.store.engines import write_transaction


@dataclass(frozen=True)
class ConsentTerms:
    """What a consent to disclosure records beside its scope."""

    #: ``sha256:…`` of the exact wording shown to the subject.
    wording_hash: str
    #: Where it was given: ``portal``, ``api``, ``cli``, ``paper`` …
    channel: str
    #: JSON text: who recorded it and the signed request.
    proof: str
    expires_at: datetime | None = None
    #: Only where no transfer mechanism covers the recipient's country (Art. 49(1)(a)).
    country: str | None = None
    risks: str | None = None


class ConsentLedger(LedgerService):
    def give_consent(
        self,
        subject_id: str,
        *,
        purpose: str | None = None,
        recipient: str | None = None,
        notice_version: str,
        actor: str,
        now: datetime | None = None,
        terms: ConsentTerms | None = None,
    ) -> Consent:
        """Record consent to one purpose, or to disclosure to one recipient (for a purpose).

        Giving again under another notice version renews the consent (the
        subject agreed to new terms); under the same one it is already in force.
        """
        return self._consent_event(
            "given", subject_id, purpose, recipient, notice_version, actor, now, terms
        )

    def withdraw_consent(
        self,
        subject_id: str,
        *,
        purpose: str | None = None,
        recipient: str | None = None,
        notice_version: str | None = None,
        actor: str,
        now: datetime | None = None,
        terms: ConsentTerms | None = None,
    ) -> Consent:
        """Withdraw a consent in force: the same arguments as giving it (Art. 7(3)).

        ``notice_version`` defaults to the policy in force (the notice shown now);
        ``terms`` say how it was withdrawn (a Global Privacy Control signal: channel ``gpc``).
        """
        version = notice_version if notice_version is not None else self._policy().version
        return self._consent_event(
            "withdrawn", subject_id, purpose, recipient, version, actor, now, terms
        )

    def consents(self, subject_id: str, *, include_history: bool = False) -> list[Consent]:
        """Consents in force (or, with ``include_history``, every event, oldest first)."""
        self._subject(subject_id)
        with self._read() as connection:
            if include_history:
                return _queries.consent_events(connection, [subject_id])
            return _queries.consents_in_force(connection, [subject_id])

    def _consent_event(
        self,
        state: ConsentState,
        subject_id: str,
        purpose: str | None,
        recipient: str | None,
        notice_version: str,
        actor: str,
        now: datetime | None,
        terms: ConsentTerms | None,
    ) -> Consent:
        policy = self._policy()
        self._check_consent_scope(policy, purpose, recipient)
        if terms is not None and recipient is None:
            raise InvalidLedgerInput("consent terms belong to a consent to a recipient")
        _checks.name(notice_version, "notice version")
        _checks.opaque_id(actor, "actor")
        at = _checks.utc(now)
        self._subject(subject_id)
        t = terms
        entry = Consent(
            str(ULID()),
            subject_id,
            purpose,
            recipient,
            state,
            at,
            notice_version,
            actor,
            t.wording_hash if t else None,
            t.channel if t else None,
            t.proof if t else None,
            t.expires_at if t else None,
            t.country if t else None,
            t.risks if t else None,
        )
        scope = f"purpose {purpose!r}" if recipient is None else f"recipient {recipient!r}"
        if recipient is not None and purpose is not None:
            scope += f" for purpose {purpose!r}"
        with write_transaction(self._engine) as connection:
            version = _queries.bump(connection, subject_id)
            events = _queries.consent_events(connection, [subject_id])
            latest = _queries.latest_consents(events).get((subject_id, purpose, recipient))
            in_force = latest is not None and latest.state == "given"
            change: str = state
            if state == "given" and latest is not None and in_force:
                if latest.notice_version == notice_version:
                    raise AlreadyInForce(
                        f"subject {subject_id!r} already consents to {scope} "
                        f"under notice version {notice_version!r}"
                    )
                change = "renewed"
            if state == "withdrawn" and not in_force:
                raise NotInForce(f"subject {subject_id!r} has no consent to {scope} in force")
            connection.execute(
                insert(ConsentRow).values(
                    id=entry.entry_id,
                    subject_id=subject_id,
                    purpose=purpose,
                    recipient=recipient,
                    state=state,
                    at=at,
                    notice_version=notice_version,
                    actor=actor,
                    ledger_version=version,
                    wording_hash=entry.wording_hash,
                    channel=entry.channel,
                    proof=entry.proof,
                    expires_at=entry.expires_at,
                    country=entry.country,
                    risks=entry.risks,
                )
            )
        self._changed(
            "consent",
            change,
            actor=actor,
            subject_id=subject_id,
            purpose=purpose,
            linked={"consent_id": entry.entry_id},
            recipient=recipient,
            notice_version=notice_version,
            version=version,
        )
        return entry

    @staticmethod
    def _check_consent_scope(policy: Policy, purpose: str | None, recipient: str | None) -> None:
        if purpose is None and recipient is None:
            raise InvalidLedgerInput(
                "a consent covers one purpose, or one recipient (for a purpose); got neither"
            )
        if purpose is not None:
            _checks.declared(purpose, "purpose", policy.purposes)
        if recipient is not None:
            _checks.opaque_id(recipient, "recipient")
            # Purposes and recipients share SubjectState.consents: a recipient named
            # like a purpose would grant that purpose.
            if recipient in policy.purposes:
                raise InvalidLedgerInput(
                    f"recipient {recipient!r} has the id of a purpose; expected a processor "
                    "or third-party id distinct from every purpose id"
                )
