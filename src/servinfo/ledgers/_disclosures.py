"""The disclosure register: every time Service Information leaves, and on which ground.

The notice allows exactly three grounds (the policy's ``disclosure_grounds``),
and a disclosure is registered only when its ground holds — fail closed:

* ``processor``: the recipient is a processor the policy lists, with a
  contract in force on the day, covering the purpose, every category and the
  subject's home region; the reference is the contract's;
* ``consent``: the subject's consent to this recipient is in force; the
  reference is that consent's entry id;
* ``legal_requirement``: to an authority (or a third party a legal process
  names), with the legal request's reference.

A disclosure made under a gag order is *withheld* until the order ends
(``withheld_until``): the subject's report, history and the notices to
recipients leave it out, and its audit entry names no subject until
:meth:`DisclosureLedger.release_withheld` writes the one that does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, insert, update
from ulid import ULID

from servinfo.audit.entries import DetailValue as Detail
from servinfo.ledgers import _checks, _queries
from servinfo.ledgers._base import LedgerService
from servinfo.ledgers.entries import BASES, RECIPIENT_KINDS, Basis, Disclosure, RecipientKind
from servinfo.ledgers.errors import DisclosureRefused, InvalidLedgerInput
from servinfo.ledgers.models import DisclosureRow
from servinfo.policy.model import Policy
from servinfo.store.directory import Subject
from servinfo.store.engines import write_transaction


class DisclosureAudit(Protocol):
    """Where a disclosure's audit entry goes: the ledgers' sink, or a read's buffer."""

    def record(
        self,
        action: str,
        *,
        actor: str,
        subject_id: str | None = ...,
        purpose: str | None = ...,
        details: Mapping[str, Detail] | None = ...,
        linked: Mapping[str, str] | None = ...,
        also: Callable[[Connection], None] | None = ...,
    ) -> Any: ...


_KINDS_BY_BASIS: dict[str, tuple[str, ...]] = {
    "processor": ("processor",),
    "consent": ("third_party",),
    "legal_requirement": ("authority", "third_party"),
}


class DisclosureLedger(LedgerService):
    def register_disclosure(
        self,
        *,
        recipient: str,
        recipient_kind: RecipientKind,
        basis: Basis,
        subject_id: str,
        categories: Sequence[str],
        purpose: str,
        record_count: int,
        actor: str,
        reference: str | None = None,
        now: datetime | None = None,
        withheld_until: datetime | None = None,
        audit: DisclosureAudit | None = None,
    ) -> Disclosure:
        """Register a disclosure of ``record_count`` records of the subject, once its ground holds.

        ``reference`` may be left out for a processor (the contract's is used)
        or consent (the consent's entry id is used); a legal requirement needs it.
        ``audit`` writes the entry instead of the ledgers' sink: the sharing service
        passes the group-committed buffer of the read that made the disclosure, and
        waits for both entries together before anything leaves.
        """
        sink: Any = audit if audit is not None else self._audit
        policy = self._policy()
        at = _checks.utc(now)
        _checks.opaque_id(recipient, "recipient")
        _checks.opaque_id(actor, "actor")
        categories = _check_shape(policy, recipient_kind, basis, categories, purpose, record_count)
        subject = self._subject(subject_id)
        if basis == "processor":
            contract = _processor_reference(policy, recipient, subject, categories, purpose, at)
            if reference is not None and reference != contract:
                raise DisclosureRefused(
                    f"reference {reference!r} is not processor {recipient!r}'s contract; "
                    f"expected {contract!r}"
                )
            reference = contract
        elif basis == "legal_requirement":
            if reference is None:
                raise InvalidLedgerInput(
                    "a disclosure for a legal requirement needs the legal request's reference"
                )
            reference = _checks.text(reference, "reference", 256)
        # With a joined sink (the read's group commit) the row is written in the group's
        # transaction: one commit for the read's entries, the row and its entry. A consent
        # is checked and the row written under the subject's lock instead, so that a
        # withdrawal committed meanwhile always wins.
        joined = audit is not None and basis != "consent"
        also = None
        if joined:
            assert reference is not None
            entry = self._entry(
                recipient, recipient_kind, basis, subject_id, categories, purpose,
                record_count, reference, at, actor, withheld_until,
            )  # fmt: skip
            row = _row(entry)

            def also(connection: Connection) -> None:
                connection.execute(insert(DisclosureRow).values(**row))

        else:
            with write_transaction(self._engine) as connection:
                if basis == "consent":
                    _queries.lock_subject(connection, subject_id)
                    reference = _consent_reference(connection, subject_id, recipient, reference)
                assert reference is not None
                entry = self._entry(
                    recipient, recipient_kind, basis, subject_id, categories, purpose,
                    record_count, reference, at, actor, withheld_until,
                )  # fmt: skip
                connection.execute(insert(DisclosureRow).values(**_row(entry)))
        extra: dict[str, Any] = {"also": also} if joined else {}
        if entry.withheld_at(at):
            # Under a gag order the entry names no subject: the subject's history is read
            # by its pseudonym. release_withheld writes the entry that names the subject.
            sink.record(
                "disclosure",
                actor=actor,
                purpose=purpose,
                details={
                    "recipient": recipient,
                    "recipient_kind": recipient_kind,
                    "basis": basis,
                    "record_count": record_count,
                    "reference": entry.reference,
                    "withheld": True,
                },
                **extra,
            )
            return entry
        self._audit_disclosure(entry, sink, **extra)
        return entry

    @staticmethod
    def _entry(*fields: Any) -> Disclosure:
        return Disclosure(str(ULID()), *fields)

    def _audit_disclosure(
        self,
        entry: Disclosure,
        sink: Any = None,
        *,
        released: bool = False,
        **extra: Any,
    ) -> None:
        basis, reference = entry.basis, entry.reference
        (sink or self._audit).record(
            "disclosure",
            **extra,
            actor=entry.actor,
            subject_id=entry.subject_id,
            purpose=entry.purpose,
            details={
                "recipient": entry.recipient,
                "recipient_kind": entry.recipient_kind,
                "basis": basis,
                "categories": ",".join(entry.categories),
                "record_count": entry.record_count,
                **({"released": True} if released else {}),
                # A processor's contract is the same for every subject; a consent's id or a
                # legal request's reference is this person's.
                **({"reference": reference} if basis == "processor" else {}),
            },
            linked={
                "disclosure_id": entry.disclosure_id,
                **({} if basis == "processor" else {"reference": reference}),
            },
        )

    def release_withheld(self, reference: str, *, now: datetime | None = None) -> list[Disclosure]:
        """End the withholding of the disclosures made under ``reference`` (a gag order
        lifted): they show from ``now`` on, and each gets the audit entry naming its subject."""
        at = _checks.utc(now)
        with write_transaction(self._engine) as connection:
            withheld = [
                d
                for d in _queries.disclosures_query(connection, subject_id=None, recipient=None)
                if d.reference == reference and d.withheld_at(at)
            ]
            if withheld:
                connection.execute(
                    update(DisclosureRow)
                    .where(DisclosureRow.id.in_([d.disclosure_id for d in withheld]))
                    .values(withheld_until=at)
                )
        released = [replace(d, withheld_until=at) for d in withheld]
        for entry in released:
            self._audit_disclosure(entry, released=True)
        return released

    def disclosures(
        self,
        subject_id: str | None = None,
        recipient: str | None = None,
        *,
        visible_at: datetime | None = None,
    ) -> list[Disclosure]:
        """Registered disclosures, oldest first; of one subject and/or to one recipient.

        What the subject is shown (its report, the notices to its recipients) passes
        ``visible_at``: disclosures withheld under a gag order then are left out."""
        with self._read() as connection:
            return _queries.disclosures_query(
                connection, subject_id=subject_id, recipient=recipient, visible_at=visible_at
            )


def _row(entry: Disclosure) -> dict[str, Any]:
    return {
        "id": entry.disclosure_id,
        "recipient": entry.recipient,
        "recipient_kind": entry.recipient_kind,
        "basis": entry.basis,
        "subject_id": entry.subject_id,
        "categories": json.dumps(list(entry.categories)),
        "record_count": entry.record_count,
        "purpose": entry.purpose,
        "reference": entry.reference,
        "at": entry.at,
        "actor": entry.actor,
        "withheld_until": entry.withheld_until,
    }


def _check_shape(
    policy: Policy,
    recipient_kind: str,
    basis: str,
    categories: Sequence[str],
    purpose: str,
    record_count: int,
) -> tuple[str, ...]:
    if recipient_kind not in RECIPIENT_KINDS:
        raise InvalidLedgerInput(
            f"recipient kind {recipient_kind!r} is unknown; expected one of: "
            f"{', '.join(RECIPIENT_KINDS)}"
        )
    if basis not in BASES or basis not in policy.disclosure_grounds:
        _checks.declared(basis, "disclosure ground", policy.disclosure_grounds)
        raise InvalidLedgerInput(f"disclosure ground {basis!r} is not one servinfo enforces")
    allowed_kinds = _KINDS_BY_BASIS[basis]
    if recipient_kind not in allowed_kinds:
        raise DisclosureRefused(
            f"a disclosure on the ground {basis!r} goes to {' or '.join(allowed_kinds)}, "
            f"got recipient kind {recipient_kind!r}"
        )
    if isinstance(categories, str) or not categories:
        raise InvalidLedgerInput("a disclosure names at least one category, got none")
    for category in categories:
        _checks.declared(category, "category", policy.categories)
    _checks.declared(purpose, "purpose", policy.purposes)
    if isinstance(record_count, bool) or not isinstance(record_count, int) or record_count < 0:
        raise InvalidLedgerInput(f"record count must be a whole number ≥ 0, got {record_count!r}")
    return tuple(dict.fromkeys(categories))


def _processor_reference(
    policy: Policy,
    recipient: str,
    subject: Subject,
    categories: Sequence[str],
    purpose: str,
    at: datetime,
) -> str:
    processor = policy.processors.get(recipient)
    if processor is None:
        raise DisclosureRefused(
            f"recipient {recipient!r} is not a processor of the policy; expected one of: "
            f"{', '.join(sorted(policy.processors)) or 'none'}"
        )
    contract = processor.contract
    today = at.date()
    state = policy.contract_state(recipient, today)
    if state != "in_force":
        raise DisclosureRefused(
            f"processor {recipient!r}'s contract {contract.reference} runs from "
            f"{contract.signed} to {contract.expires}, not on {today} ({state})"
        )
    uncovered = [c for c in categories if c not in processor.categories]
    if uncovered:
        raise DisclosureRefused(
            f"processor {recipient!r}'s contract covers categories "
            f"{', '.join(processor.categories)}, not {', '.join(uncovered)}"
        )
    if purpose not in processor.purposes:
        raise DisclosureRefused(
            f"processor {recipient!r}'s contract covers purposes "
            f"{', '.join(processor.purposes)}, not {purpose!r}"
        )
    if subject.home_region not in processor.regions:
        raise DisclosureRefused(
            f"processor {recipient!r}'s contract covers regions "
            f"{', '.join(processor.regions)}, not the subject's home region "
            f"{subject.home_region!r}"
        )
    return contract.reference


def _consent_reference(
    connection: Connection, subject_id: str, recipient: str, given: str | None
) -> str:
    in_force = [
        consent
        for consent in _queries.consents_in_force(connection, [subject_id])
        if consent.recipient == recipient
    ]
    if not in_force:
        raise DisclosureRefused(
            f"subject {subject_id!r} has no consent in force to disclosure to {recipient!r}"
        )
    # A recipient may hold consents for several purposes: the one named must be in force.
    if given is not None and given in {consent.entry_id for consent in in_force}:
        return given
    consent_id = in_force[-1].entry_id
    if given is not None:
        raise DisclosureRefused(
            f"reference {given!r} is not the consent in force for {recipient!r}; "
            f"expected {consent_id!r}"
        )
    return consent_id
