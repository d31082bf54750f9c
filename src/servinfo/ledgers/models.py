"""Tables of the ledgers, in the control database.

The ledgers are evidence of what a subject asked for and what was shared, so
their history is kept: a row is never deleted and is only ever updated to set
the time (and actor) that ends it — an objection withdrawn, a restriction
lifted, a hold released. Consents are an event log instead (one row per
``given`` or ``withdrawn``), because a consent's *terms* (the notice version
the subject saw) can change while it stays in force; the latest event of a
scope decides, ordered by ``ledger_version`` rather than by time, so two
events in the same instant still have an order.

``ledger_versions`` holds one counter per subject, bumped in the transaction
of every change of its objections, restrictions or consents, which is what
invalidates cached access decisions; the row keyed :data:`GLOBAL_KEY` counts
every ledger change (holds included) for caches shared between processes.

There are no foreign keys to ``subjects`` or ``organizations``: those tables
belong to another metadata tree, and evidence must survive whatever happens
to them; the services check that subjects and organizations exist.
Types behave alike on SQLite and PostgreSQL; lists are JSON text.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from servinfo.store.models import UTCDateTime

__all__ = [
    "GLOBAL_KEY",
    "LEDGER_TABLES",
    "ConsentRow",
    "DisclosureRow",
    "HoldRow",
    "LedgerBase",
    "LedgerVersionRow",
    "ObjectionRow",
    "RestrictionRow",
    "ledger_metadata",
]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
}
_ID = 26  # a ULID
_OPAQUE = 128  # subject, organization, recipient and principal ids
_NAME = 64  # purpose, category, basis, notice version …
_TEXT = 500  # a reason
_REFERENCE = 256  # a contract, consent or legal-request reference

#: The ``ledger_versions`` key that counts every change; never a subject id
#: (subject ids start with a letter or digit).
GLOBAL_KEY = "*"


class LedgerBase(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class ObjectionRow(LedgerBase):
    """An objection (GDPR Art. 21) to one objectable purpose; in force until withdrawn."""

    __tablename__ = "objections"
    __table_args__ = (Index(None, "subject_id", "purpose"),)

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(_OPAQUE))
    purpose: Mapped[str] = mapped_column(String(_NAME))
    objected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(_OPAQUE))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by: Mapped[str | None] = mapped_column(String(_OPAQUE))


class RestrictionRow(LedgerBase):
    """A restriction of processing (Art. 18) and the purposes Art. 18(2) still allows."""

    __tablename__ = "restrictions"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(_OPAQUE), index=True)
    reason: Mapped[str] = mapped_column(String(_TEXT))
    #: JSON list of purpose ids still allowed (legal claims, others' rights, public interest).
    allows: Mapped[str] = mapped_column(Text())
    restricted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(_OPAQUE))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lifted_by: Mapped[str | None] = mapped_column(String(_OPAQUE))


class ConsentRow(LedgerBase):
    """One consent event for a purpose, or for disclosure to a recipient (for a purpose).

    A consent to a recipient names its terms (l0002): the wording's hash, the
    channel, the proof, an end, and where no transfer mechanism covers the
    recipient's country, the country and the risks the subject was told.
    """

    __tablename__ = "consents"
    __table_args__ = (
        CheckConstraint("state IN ('given', 'withdrawn')", name="state"),
        CheckConstraint("purpose IS NOT NULL OR recipient IS NOT NULL", name="scope"),
    )

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(_OPAQUE), index=True)
    purpose: Mapped[str | None] = mapped_column(String(_NAME))
    recipient: Mapped[str | None] = mapped_column(String(_OPAQUE))
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The policy version whose notice the subject saw.
    notice_version: Mapped[str] = mapped_column(String(_NAME))
    actor: Mapped[str] = mapped_column(String(_OPAQUE))
    #: The subject's ledger version this event produced: orders a scope's events.
    ledger_version: Mapped[int] = mapped_column(Integer())
    #: sha256 of the exact wording shown (see servinfo.sharing.consents).
    wording_hash: Mapped[str | None] = mapped_column(String(80))
    #: Where it was given: portal, api, cli, paper …
    channel: Mapped[str | None] = mapped_column(String(_NAME))
    #: JSON: who recorded it and the signed request (its digest and signature).
    proof: Mapped[str | None] = mapped_column(Text())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The recipient's country when no transfer mechanism covers it (Art. 49(1)(a)).
    country: Mapped[str | None] = mapped_column(String(8))
    #: The risks of that transfer, as the subject was told them.
    risks: Mapped[str | None] = mapped_column(Text())


class HoldRow(LedgerBase):
    """A legal hold on one subject or on one organization (and so its subjects)."""

    __tablename__ = "legal_holds"
    __table_args__ = (
        CheckConstraint("(subject_id IS NULL) <> (org_id IS NULL)", name="one_target"),
    )

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    subject_id: Mapped[str | None] = mapped_column(String(_OPAQUE), index=True)
    org_id: Mapped[str | None] = mapped_column(String(_OPAQUE), index=True)
    reason: Mapped[str] = mapped_column(String(_TEXT))
    placed_by: Mapped[str] = mapped_column(String(_OPAQUE))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(_OPAQUE))


class DisclosureRow(LedgerBase):
    """Service Information that left IMS - Network: to whom, on which ground, what."""

    __tablename__ = "disclosures"

    id: Mapped[str] = mapped_column(String(_ID), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(_OPAQUE), index=True)
    #: processor, third_party or authority.
    recipient_kind: Mapped[str] = mapped_column(String(16))
    #: The policy's disclosure ground: processor, consent or legal_requirement.
    basis: Mapped[str] = mapped_column(String(_NAME))
    subject_id: Mapped[str] = mapped_column(String(_OPAQUE), index=True)
    #: JSON list of category ids.
    categories: Mapped[str] = mapped_column(Text())
    record_count: Mapped[int] = mapped_column(Integer())
    purpose: Mapped[str] = mapped_column(String(_NAME))
    #: Contract reference, consent entry id or legal-request reference.
    reference: Mapped[str] = mapped_column(String(_REFERENCE))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(_OPAQUE))
    #: Under a gag order, hidden from the subject until then (l0002); set again when it lifts.
    withheld_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LedgerVersionRow(LedgerBase):
    """A subject's ledger version (or, under :data:`GLOBAL_KEY`, every change's)."""

    __tablename__ = "ledger_versions"

    subject_id: Mapped[str] = mapped_column(String(_OPAQUE), primary_key=True)
    version: Mapped[int] = mapped_column(Integer())


ledger_metadata = LedgerBase.metadata
#: Every table the ledgers own, by name.
LEDGER_TABLES: frozenset[str] = frozenset(ledger_metadata.tables)
