"""The values the ledgers hand out: one frozen dataclass per kind of entry.

They are read-only views of rows; history is kept, so an entry that ended
(withdrawn, lifted, released) is still returned by the history queries, with
the time and actor that ended it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = [
    "BASES",
    "RECIPIENT_KINDS",
    "Basis",
    "Consent",
    "ConsentState",
    "Disclosure",
    "Hold",
    "Objection",
    "RecipientKind",
    "Restriction",
]

ConsentState = Literal["given", "withdrawn"]
RecipientKind = Literal["processor", "third_party", "authority"]
#: The notice's three grounds for sharing (the policy's ``disclosure_grounds``).
Basis = Literal["processor", "consent", "legal_requirement"]
RECIPIENT_KINDS: tuple[RecipientKind, ...] = ("processor", "third_party", "authority")
BASES: tuple[Basis, ...] = ("processor", "consent", "legal_requirement")


@dataclass(frozen=True, slots=True)
class Objection:
    entry_id: str
    subject_id: str
    purpose: str
    objected_at: datetime
    actor: str
    withdrawn_at: datetime | None = None
    withdrawn_by: str | None = None

    @property
    def in_force(self) -> bool:
        return self.withdrawn_at is None


@dataclass(frozen=True, slots=True)
class Restriction:
    entry_id: str
    subject_id: str
    reason: str
    #: Purposes GDPR Art. 18(2) still allows while the restriction is in force.
    allows: tuple[str, ...]
    restricted_at: datetime
    actor: str
    lifted_at: datetime | None = None
    lifted_by: str | None = None

    @property
    def in_force(self) -> bool:
        return self.lifted_at is None


@dataclass(frozen=True, slots=True)
class Consent:
    """One consent event; the latest event of a scope (purpose or recipient) decides."""

    entry_id: str
    subject_id: str
    purpose: str | None
    recipient: str | None
    state: ConsentState
    at: datetime
    notice_version: str
    actor: str
    #: A consent to a recipient's terms (None for a consent to a purpose).
    wording_hash: str | None = None
    channel: str | None = None
    #: JSON text: who recorded it, the signed request.
    proof: str | None = None
    expires_at: datetime | None = None
    country: str | None = None
    risks: str | None = None

    @property
    def scope(self) -> str:
        """The recipient id, or the purpose id, the consent is about."""
        return str(self.recipient) if self.recipient is not None else str(self.purpose)

    def in_force_at(self, when: datetime) -> bool:
        """Given, and not past its end at ``when`` (a withdrawal is a later event)."""
        return self.state == "given" and (self.expires_at is None or when < self.expires_at)


@dataclass(frozen=True, slots=True)
class Hold:
    """A legal hold on a subject or on an organization (exactly one of the two)."""

    hold_id: str
    subject_id: str | None
    org_id: str | None
    reason: str
    placed_by: str
    placed_at: datetime
    released_at: datetime | None = None
    released_by: str | None = None

    @property
    def in_force(self) -> bool:
        return self.released_at is None


@dataclass(frozen=True, slots=True)
class Disclosure:
    disclosure_id: str
    recipient: str
    recipient_kind: RecipientKind
    basis: Basis
    subject_id: str
    categories: tuple[str, ...]
    purpose: str
    record_count: int
    reference: str
    at: datetime
    actor: str
    #: Hidden from the subject until then (a gag order); None: never hidden.
    withheld_until: datetime | None = None

    def withheld_at(self, when: datetime) -> bool:
        return self.withheld_until is not None and when < self.withheld_until
