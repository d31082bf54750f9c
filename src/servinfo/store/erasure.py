"""Erasing a subject by crypto-shredding, in every region.

Steps of :func:`erase_subject`:

(1) Control database, one transaction: mark the subject erased in the
    directory (from now on writers refuse its records) and write a *pending*
    shred-ledger entry per region under the subject's keyed pseudonym.
(2) Each region database, one write transaction holding a lock that waits for
    in-flight writers: find the subject's live data keys of every retention
    class not kept; record the ids of the records they protect as tombstones
    (``erased_records``, no subject in them); delete those records and their
    blind indexes; and overwrite the keys' rows so that only a tombstone
    without key material remains. Commit.
(3) Purge the storage: SQLite checkpoints its WAL into the main file
    (``secure_delete`` has zeroed the freed cells) and truncates it;
    PostgreSQL vacuums ``data_keys``. The report says if this could not finish.
(4) Complete the ledger entries with the classes actually destroyed.

Records of kept classes (a legal obligation to keep them) stay readable until
their retention ends; the retention sweep destroys those keys then.
Running the erasure again is harmless and completes a pending one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, insert, literal, select, update

from servinfo.crypto import PSEUDONYM, Keyring, Pseudonymizer
from servinfo.store._keys import SealerCache
from servinfo.store._validate import check_name
from servinfo.store.directory import SubjectDirectory, mark_erased
from servinfo.store.engines import checkpoint, lock_for_erasure, write_transaction
from servinfo.store.errors import InvalidRecord
from servinfo.store.ledger import begin_entries, complete_entry
from servinfo.store.models import (
    BlindIndexRow,
    DataKeyRow,
    ErasedRecordRow,
    RecordRow,
    UTCDateTime,
)

__all__ = ["ErasureReport", "RegionErasure", "erase_subject"]


@dataclass(frozen=True)
class RegionErasure:
    """What an erasure did in one region."""

    region: str
    destroyed_classes: tuple[str, ...]
    keys_destroyed: int
    records_deleted: int
    #: False if a reader kept SQLite from truncating its WAL; re-run ``checkpoint``.
    storage_purged: bool


@dataclass(frozen=True)
class ErasureReport:
    """The outcome of :func:`erase_subject`; names the subject only by pseudonym."""

    subject_pseudonym: str
    erased_at: datetime
    kept_classes: tuple[str, ...]
    regions: tuple[RegionErasure, ...]

    @property
    def records_deleted(self) -> int:
        return sum(r.records_deleted for r in self.regions)

    @property
    def keys_destroyed(self) -> int:
        return sum(r.keys_destroyed for r in self.regions)


def erase_subject(
    *,
    directory: SubjectDirectory,
    region_engines: Mapping[str, Engine],
    keyring: Keyring,
    caches: Sequence[SealerCache],
    subject_id: str,
    keep_classes: Collection[str],
    now: datetime,
) -> ErasureReport:
    """Destroy ``subject_id``'s data keys except ``keep_classes``; see the module docstring."""
    if isinstance(keep_classes, str):
        raise InvalidRecord("keep_classes must be a collection of class names, not one string")
    kept = tuple(sorted({check_name(c, "kept class", InvalidRecord) for c in keep_classes}))
    directory.get_subject(subject_id)  # UnknownSubject before anything is written
    pseudonymizer = Pseudonymizer(keyring.current(PSEUDONYM))
    pseudonym = pseudonymizer.pseudonym(subject_id)
    # (1) Mark and announce.
    with write_transaction(directory.engine) as connection:
        mark_erased(connection, subject_id, now)
        entry_ids = begin_entries(
            connection,
            pseudonym=pseudonym,
            pseudonym_key_id=pseudonymizer.key_id,
            regions=region_engines,
            kept_classes=kept,
            now=now,
        )
    results = []
    for region in sorted(region_engines):
        engine = region_engines[region]
        # (2) Destroy.
        with write_transaction(engine) as connection:
            lock_for_erasure(connection)
            destroyed_ids, classes, deleted = _destroy(connection, subject_id, kept, now)
        for cache in caches:
            cache.forget(destroyed_ids)
        # (3) Purge.
        purged = checkpoint(engine)
        # (4) Complete.
        with write_transaction(directory.engine) as connection:
            complete_entry(connection, entry_ids[region], classes, now)
        results.append(RegionErasure(region, classes, len(destroyed_ids), deleted, purged))
    return ErasureReport(pseudonym, now, kept, tuple(results))


def _destroy(
    connection: Connection, subject_id: str, kept: tuple[str, ...], now: datetime
) -> tuple[list[str], tuple[str, ...], int]:
    live = connection.execute(
        select(DataKeyRow.id, DataKeyRow.retention_class).where(
            DataKeyRow.subject_id == subject_id,
            DataKeyRow.wrapped.is_not(None),
            DataKeyRow.retention_class.not_in(kept),
        )
    ).all()
    key_ids = [row.id for row in live]
    if not key_ids:
        return [], (), 0
    doomed = select(RecordRow.id).where(
        RecordRow.subject_id == subject_id, RecordRow.key_id.in_(key_ids)
    )
    connection.execute(
        insert(ErasedRecordRow).from_select(
            ["record_id", "erased_at"],
            select(RecordRow.id, literal(now, UTCDateTime())).where(
                RecordRow.subject_id == subject_id, RecordRow.key_id.in_(key_ids)
            ),
        )
    )
    connection.execute(delete(BlindIndexRow).where(BlindIndexRow.record_id.in_(doomed)))
    deleted = connection.execute(
        delete(RecordRow).where(RecordRow.subject_id == subject_id, RecordRow.key_id.in_(key_ids))
    ).rowcount
    # Overwrite, not just flag: the row keeps no key material.
    connection.execute(
        update(DataKeyRow).where(DataKeyRow.id.in_(key_ids)).values(wrapped=None, destroyed_at=now)
    )
    classes = tuple(sorted({row.retention_class for row in live}))
    return key_ids, classes, deleted
