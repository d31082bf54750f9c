"""Tables of the control database and of each region database.

Two separate ``MetaData`` trees, because they live in different databases
with their own migrations: :data:`control_metadata` (organizations, subjects,
principals, policy versions, the shred ledger) and :data:`region_metadata`
(records, data keys, blind indexes, erased-record tombstones), one region
database per region.

Plaintext columns are only what lookups and retention need; a record's fields
are in ``records.ciphertext``. ``records`` has the primary key
``(collected_at, id)``; ``id`` has its own (non-unique, since a partitioned
table's unique indexes must include the partition key) index for reads by id.
On PostgreSQL ``records`` is partitioned, telemetry by month of collection,
and its key is ``(collected_at, id, category)`` (:mod:`servinfo.store.partitions`;
the partitions are not in these models).

Types are chosen to behave the same on SQLite and PostgreSQL: times are
:class:`UTCDateTime` (timezone-aware in Python, UTC in the database).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "BlindIndexRow",
    "ControlBase",
    "ControlStampRow",
    "DataKeyRow",
    "ErasedRecordRow",
    "OrganizationRow",
    "PolicyVersionRow",
    "PrincipalRow",
    "RecordRow",
    "RegionBase",
    "RegionGenerationRow",
    "RegionStampRow",
    "ShredLedgerRow",
    "SubjectRow",
    "UTCDateTime",
    "control_metadata",
    "region_metadata",
]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
ID_LENGTH = 26  # a ULID in Crockford base32
_NAME = 64  # category, kind, source, region, retention class …
_SUBJECT = 128  # opaque ids issued by the identity service


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC; naive values are refused.

    SQLite has no time zone type and hands back naive values, so they are
    stored in UTC and read back tagged UTC. The text SQLite stores
    (``YYYY-MM-DD HH:MM:SS.ffffff``) sorts chronologically, which the indexes
    on ``collected_at`` rely on.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()}; expected a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# -- control database ----------------------------------------------------------


class ControlBase(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class OrganizationRow(ControlBase):
    """A partner or a customer organization; its home region pins its subjects' data."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(_SUBJECT), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    parent_id: Mapped[str | None] = mapped_column(
        String(_SUBJECT), ForeignKey("organizations.id"), index=True
    )
    home_region: Mapped[str] = mapped_column(String(_NAME))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SubjectRow(ControlBase):
    """A data subject: where its data lives and which regime protects it."""

    __tablename__ = "subjects"

    subject_id: Mapped[str] = mapped_column(String(_SUBJECT), primary_key=True)
    org_id: Mapped[str] = mapped_column(
        String(_SUBJECT), ForeignKey("organizations.id"), index=True
    )
    home_region: Mapped[str] = mapped_column(String(_NAME))
    jurisdiction: Mapped[str] = mapped_column(String(_NAME))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When the identity service reported the account closed; null while it is open.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: True from a closure or reopening until the retention of the subject's records
    #: that count from closure has been recomputed (:mod:`servinfo.retention.closure`).
    closure_pending: Mapped[bool] = mapped_column(Boolean(), default=False, server_default=false())


class PrincipalRow(ControlBase):
    """Who may call servinfo; only the SHA-256 of the token is kept."""

    __tablename__ = "principals"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(_NAME))
    role: Mapped[str] = mapped_column(String(_NAME))
    region: Mapped[str | None] = mapped_column(String(_NAME))
    entity: Mapped[str | None] = mapped_column(String(_NAME))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: What the principal is tied to: a service id, a processor id, a subject id.
    binding: Mapped[str | None] = mapped_column(String(128))


class PolicyVersionRow(ControlBase):
    """Every policy version that was ever active, as the JSON document it was."""

    __tablename__ = "policy_versions"

    version: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    document: Mapped[str] = mapped_column(Text())
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    is_active: Mapped[bool] = mapped_column(Boolean(), default=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ShredLedgerRow(ControlBase):
    """One erasure in one region, by keyed pseudonym: what a restore must re-apply.

    Written *before* the keys are destroyed (an intent) and completed after, so
    a crash in between leaves a pending entry that re-running the erasure
    finishes. Kept in the control database so that restoring a region database
    from a backup cannot also roll back the ledger that undoes the restore.
    """

    __tablename__ = "shred_ledger"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    subject_pseudonym: Mapped[str] = mapped_column(String(32), index=True)
    pseudonym_key_id: Mapped[str] = mapped_column(String(_NAME))
    region: Mapped[str] = mapped_column(String(_NAME))
    #: JSON list of the retention classes whose keys were kept (legal obligations).
    kept_classes: Mapped[str] = mapped_column(Text())
    #: JSON list of the retention classes whose keys were destroyed; null while pending.
    destroyed_classes: Mapped[str | None] = mapped_column(Text())
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# -- region databases ------------------------------------------------------------


class RegionBase(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class RecordRow(RegionBase):
    """One record of Service Information; its fields are in ``ciphertext``."""

    __tablename__ = "records"
    __table_args__ = (
        PrimaryKeyConstraint("collected_at", "id"),
        Index(None, "subject_id", "category", "collected_at"),
        Index(None, "id"),
        # The retention sweep's way in: records past their end, without a scan.
        Index(None, "retain_until"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH))
    subject_id: Mapped[str] = mapped_column(String(_SUBJECT))
    org_id: Mapped[str] = mapped_column(String(_SUBJECT))
    category: Mapped[str] = mapped_column(String(_NAME))
    kind: Mapped[str] = mapped_column(String(_NAME))
    source: Mapped[str] = mapped_column(String(_NAME))
    collected_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The last day the record is kept (:mod:`servinfo.retention.schedule`).
    retain_until: Mapped[date] = mapped_column(Date())
    #: Kept past ``retain_until`` by a legal hold or an open request that needs it;
    #: set and cleared by the retention sweep (:mod:`servinfo.store.expiry`).
    legal_hold: Mapped[bool] = mapped_column(Boolean(), default=False)
    schema_version: Mapped[int] = mapped_column(Integer())
    key_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    #: nonce || AES-256-GCM ciphertext || tag, from :meth:`servinfo.crypto.Sealer.seal`.
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary())


class DataKeyRow(RegionBase):
    """A data key wrapped by the region's KEK; ``wrapped`` is null once destroyed.

    ``scope`` is ``""`` for the shared key of (subject, retention class) and the
    record id for a key of one record's own (after rectification). The row of a
    destroyed key stays as a tombstone without key material, so reads can say
    "erased" and the unique constraint keeps an erased subject from silently
    getting a fresh key.
    """

    __tablename__ = "data_keys"
    __table_args__ = (UniqueConstraint("subject_id", "retention_class", "scope"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(_SUBJECT))
    region: Mapped[str] = mapped_column(String(_NAME))
    retention_class: Mapped[str] = mapped_column(String(_NAME))
    scope: Mapped[str] = mapped_column(String(ID_LENGTH))
    kek_id: Mapped[str] = mapped_column(String(_NAME))
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BlindIndexRow(RegionBase):
    """A keyed blind index of a lookup field (e-mail, username) pointing at a record."""

    __tablename__ = "blind_index"
    __table_args__ = (PrimaryKeyConstraint("field", "digest", "record_id"),)

    field: Mapped[str] = mapped_column(String(_NAME))
    digest: Mapped[bytes] = mapped_column(LargeBinary(16))
    record_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    subject_id: Mapped[str] = mapped_column(String(_SUBJECT))
    #: The blind-index key version that computed ``digest``.
    index_key_id: Mapped[str] = mapped_column(String(_NAME))


class ErasedRecordRow(RegionBase):
    """The id of a record deleted by an erasure, so a later read says "erased".

    Holds nothing about the subject: the id is random and the row is unlinked.
    """

    __tablename__ = "erased_records"

    record_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime())


#: Bytes of the digest that names a keyed request in ``request_marks``.
REQUEST_DIGEST_BYTES = 16


class RequestMarkRow(RegionBase):
    """A line of a keyed ingest request that this region stored, and the record it became.

    Inserted in the transaction that inserts the record, under the primary key
    (request, line), ``request`` being the principal's id and the idempotency
    key hashed (:func:`servinfo.store._marks.request_digest`): a request replayed
    after a crash at any point finds here the lines it already stored, and
    stores none of them twice. Kept as long as the request's key (``expires_at``).
    """

    __tablename__ = "request_marks"
    __table_args__ = (
        PrimaryKeyConstraint("request", "line"),
        Index(None, "expires_at"),
    )

    request: Mapped[bytes] = mapped_column(LargeBinary(REQUEST_DIGEST_BYTES))
    line: Mapped[int] = mapped_column(Integer())
    record_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SweepProgressRow(RegionBase):
    """A count of a retention sweep not yet in the audit log: per outcome and kind.

    Each batch of the sweep adds what it did to these rows in its own
    transaction (``outcome`` ``deleted``, ``provisional``, ``extended`` by kind;
    ``keys_destroyed`` and ``attempts`` with an empty kind), so that an attempt
    killed mid-sweep leaves its counts to the attempt that finishes the sweep
    (:mod:`servinfo.store.sweep_progress`). Cleared once the sweep's audit entry is
    written. Counts only: no subject, no record id.
    """

    __tablename__ = "sweep_progress"
    __table_args__ = (PrimaryKeyConstraint("sweep_id", "outcome", "kind"),)

    #: The sweep's identity: its job's id, or a foreground run's own.
    sweep_id: Mapped[str] = mapped_column(String(_NAME))
    outcome: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(_NAME))
    amount: Mapped[int] = mapped_column(Integer())


class SweepSealRow(RegionBase):
    """A sweep whose counts are summed and whose audit entry is being written.

    Written before the entry; deleted with the sweep's progress after it. A
    sweep found sealed on a rerun crashed in between: the rerun looks for its
    entry in the audit log from ``audit_from`` on and writes it only if absent.
    """

    __tablename__ = "sweep_seals"

    sweep_id: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    #: The size of the audit log before the entry was written.
    audit_from: Mapped[int] = mapped_column(Integer())
    #: The sweep's report (counts per kind, hold and request), as JSON.
    report: Mapped[str] = mapped_column(Text())


# -- the stamp every database carries (see servinfo.store.identity) ------------------


class _StampColumns:
    """Which deployment a database belongs to, as what, at which generation. One row."""

    __tablename__ = "store_stamp"

    #: Always 1: the table holds one row.
    singleton: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    deployment_id: Mapped[str] = mapped_column(String(_NAME))
    #: ``control`` or ``region``.
    role: Mapped[str] = mapped_column(String(16))
    #: The region id of a region database; empty for the control database.
    region: Mapped[str] = mapped_column(String(_NAME))
    generation: Mapped[int] = mapped_column(Integer())
    stamped_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ControlStampRow(_StampColumns, ControlBase):
    """The control database's own stamp."""


class RegionStampRow(_StampColumns, RegionBase):
    """A region database's stamp."""


class RegionGenerationRow(ControlBase):
    """The generation the control database expects of each region database.

    Raised with the region's own by every restore, so that an older copy of a
    region put back in place is recognized as stale.
    """

    __tablename__ = "region_generations"

    region: Mapped[str] = mapped_column(String(_NAME), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer())


control_metadata: MetaData = ControlBase.metadata
region_metadata: MetaData = RegionBase.metadata
