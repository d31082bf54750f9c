"""The audit log's tables in the control database, with their own metadata.

The audit package owns these tables (its own :class:`AuditBase`, not the
store's), and adds them through its own Alembic branch (``migrations/``,
label ``audit``), so the store never has to know about them::

    audit_entries       seq, leaf hash, canonical bytes: one row per leaf, append-only
    audit_checkpoints   C2SP checkpoints as signed, with the compact range at each size
    audit_cosignatures  witnesses' cosignatures of the checkpoints
    audit_heads         tree heads signed before checkpoints (kept, still verified)
    audit_state         one row: the next seq, the current frontier (the sequencing
                        point) and a MAC over both with a key from the keyring; and
                        how many salts were ever destroyed (``erasures``)
    subject_salts       the per-subject salt of each subject's pseudonym; deleted at erasure
    audit_subject_entries  (bucket, pseudonym, seq) of every entry about a subject: its history
                        without a scan of the log; a subject's rows go with its salt

Every stored column of an entry is covered by its hash: the seq is its place
in the tree, the leaf hash is the hash of the bytes. On SQLite the ``seq`` and
``tree_size`` keys are ``INTEGER PRIMARY KEY`` (the rowid itself): no second
index to maintain on every append.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Integer, LargeBinary, MetaData, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AuditBase",
    "AuditCheckpointRow",
    "AuditCosignatureRow",
    "AuditEntryRow",
    "AuditHeadRow",
    "AuditStateRow",
    "AuditSubjectEntryRow",
    "SubjectSaltRow",
    "audit_metadata",
]

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
#: BIGINT on PostgreSQL; on SQLite INTEGER, which makes a primary key the rowid.
_COUNT = BigInteger().with_variant(Integer(), "sqlite")
#: The id of the only row of ``audit_state``.
STATE_ID = 1
#: ``audit_subject_entries`` groups entries in buckets of 2**12 seqs.
SUBJECT_BUCKET_BITS = 12


class AuditBase(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)


class AuditEntryRow(AuditBase):
    """One leaf: the canonical bytes as they were hashed, never re-serialized."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(_COUNT, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    entry: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCheckpointRow(AuditBase):
    """A checkpoint as the log key signed it; ``frontier`` is the compact range at its size."""

    __tablename__ = "audit_checkpoints"

    tree_size: Mapped[int] = mapped_column(_COUNT, primary_key=True, autoincrement=False)
    note: Mapped[bytes] = mapped_column(LargeBinary)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCosignatureRow(AuditBase):
    """A witness's cosignature of the checkpoint of ``tree_size``, as its note signature."""

    __tablename__ = "audit_cosignatures"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), primary_key=True)
    key_id: Mapped[bytes] = mapped_column(LargeBinary(4), primary_key=True)
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class AuditHeadRow(AuditBase):
    """A signed tree head; ``frontier`` is ``CompactRange.to_bytes()`` at its size."""

    __tablename__ = "audit_heads"

    tree_size: Mapped[int] = mapped_column(_COUNT, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    frontier: Mapped[bytes] = mapped_column(LargeBinary)


class AuditStateRow(AuditBase):
    """The single row every append batch locks: where the log continues."""

    __tablename__ = "audit_state"
    __table_args__ = (CheckConstraint(f"id = {STATE_ID}", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    next_seq: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)
    #: HMAC-SHA256 over next_seq and frontier; NULL before the first append that set it.
    mac: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    #: Salts destroyed so far (each erasure adds one in its transaction): an appending
    #: process reuses the salts it saw committed only while this has not changed.
    erasures: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class SubjectSaltRow(AuditBase):
    """The salt of a subject's pseudonym; deleting it unlinks the subject from the log."""

    __tablename__ = "subject_salts"

    subject_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditSubjectEntryRow(AuditBase):
    """An entry about a subject, by the 16 bytes of the pseudonym it names.

    Keyed by the entry's bucket (``seq >> SUBJECT_BUCKET_BITS``) first: a batch of
    entries about thousands of subjects then writes into the few pages of the
    newest bucket, not into a page per subject all over the index (which made an
    append cost a page write per entry); a history seeks once per bucket.

    Not covered by any hash: it only finds entries, whose bytes (and so the
    pseudonym they name) the tree covers. A row pointing at an entry about
    someone else is refused when the history is read; a row deleted hides an
    entry from the history, which only a scan of the log would show.
    """

    __tablename__ = "audit_subject_entries"
    # The rows are the key: no rowid B-tree beside it on SQLite.
    __table_args__ = ({"sqlite_with_rowid": False},)

    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    pseudonym: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


audit_metadata = AuditBase.metadata
