"""Erasing a subject by crypto-shredding, in every region.

Steps of :func:`erase_subject`:

(1) Control database, one transaction: mark the subject erased in the
    directory (from now on writers refuse its records) and write a *pending*
    shred-ledger entry per region under the subject's keyed pseudonym.
(2) The subject's home region, one write transaction holding a lock that waits
    for in-flight writers: overwrite the rows of the subject's live data keys
    of every retention class not kept, so that only a tombstone without key
    material remains. Commit, durably, and on SQLite without an automatic
    checkpoint (``write_transaction(commit="synced")``).

    The erasure is now *effective*: writers put a subject's records in its home
    region only, and none of those records can be decrypted any more, by
    anyone, with any key. Its cost depends on the subject's number of data
    keys (one per retention class), not on its records or the store's size.

Then :func:`finish_erasure` (run by :func:`erase_subject` itself unless it is
given ``finish=False``, in which case the caller runs it next):

(3) Every other region: if it holds a live key of the subject (it should not,
    see (2)), the same destruction there.
(4) Every region: purge what the destroyed keys protected — record the ids of
    their records as tombstones (``erased_records``, no subject in them, so a
    restore stays erased), delete the records, their blind indexes and the
    ingest marks that name them (``request_marks``: the subject is refused as
    erased, so no replay needs them).
(5) Complete the ledger entries with the classes actually destroyed.
(6) Purge the storage: SQLite checkpoints its WAL into the main file
    (``secure_delete`` has zeroed the freed cells) and truncates it, so that
    no old page image keeps a destroyed key or a deleted record; PostgreSQL
    vacuums ``data_keys``. This copies whatever the WAL holds (recent writes of
    every subject), so it may take longer than (1)–(2); the report says if it
    could not finish.

Records of kept classes (a legal obligation to keep them) stay readable until
their retention ends; the retention sweep destroys those keys then.
Running the erasure again is harmless and completes a pending one (a crash
between (2) and (5) leaves pending ledger entries and, at worst, ciphertext
whose keys are gone, which (4) purges on the next run).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, insert, literal, select, update

from servinfo.crypto import PSEUDONYM, Keyring, Pseudonymizer
from servinfo.store._keys import SealerCache
from servinfo.store._validate import check_name
from servinfo.store.directory import SubjectDirectory, mark_erased
from servinfo.store.engines import (
    checkpoint,
    lock_for_erasure,
    write_transaction,
)
from servinfo.store.errors import InvalidRecord, UnknownSubject
from servinfo.store.ledger import begin_entries, complete_entry
from servinfo.store.models import (
    BlindIndexRow,
    DataKeyRow,
    ErasedRecordRow,
    RecordRow,
    RequestMarkRow,
    SubjectRow,
    UTCDateTime,
)

__all__ = [
    "ERASED_SUBJECT",
    "ErasureReport",
    "RegionErasure",
    "erase_subject",
    "finish_erasure",
]

#: What stands for an erased subject in rows kept after its erasure (request case
#: files, the disclosure register): never a subject id, which starts with a letter or
#: digit, and the same for every erased subject, so it joins nothing to anyone.
ERASED_SUBJECT = "~erased"


@dataclass(frozen=True)
class RegionErasure:
    """What an erasure did in one region."""

    region: str
    destroyed_classes: tuple[str, ...]
    keys_destroyed: int
    records_deleted: int
    #: False if a reader kept SQLite from truncating its WAL (re-run ``checkpoint``),
    #: or until :func:`finish_erasure` has run.
    storage_purged: bool


@dataclass(frozen=True)
class ErasureReport:
    """The outcome of :func:`erase_subject`; names the subject only by pseudonym."""

    subject_pseudonym: str
    erased_at: datetime
    kept_classes: tuple[str, ...]
    #: The home region only until :func:`finish_erasure` has run; then every region.
    regions: tuple[RegionErasure, ...]
    #: The pending shred-ledger entry of each region, by region.
    ledger_entries: Mapping[str, str] = field(default_factory=dict, repr=False)
    #: Whether steps (3)–(5) have run.
    finished: bool = False

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
    finish: bool = True,
) -> ErasureReport:
    """Destroy ``subject_id``'s data keys except ``keep_classes``; see the module docstring.

    Returns once the erasure is effective, steps (1)–(2); with ``finish`` (the
    default) only after :func:`finish_erasure` too.
    """
    if isinstance(keep_classes, str):
        raise InvalidRecord("keep_classes must be a collection of class names, not one string")
    kept = tuple(sorted({check_name(c, "kept class", InvalidRecord) for c in keep_classes}))
    pseudonymizer = Pseudonymizer(keyring.current(PSEUDONYM))
    pseudonym = pseudonymizer.pseudonym(subject_id)
    # (1) Mark and announce.
    with write_transaction(directory.engine) as connection:
        # Read in the same transaction: an unknown subject rolls it back unwritten.
        home = connection.execute(
            select(SubjectRow.home_region).where(SubjectRow.subject_id == subject_id)
        ).scalar_one_or_none()
        if home is None:
            raise UnknownSubject(subject_id)
        mark_erased(connection, subject_id, now)
        entry_ids = begin_entries(
            connection,
            pseudonym=pseudonym,
            pseudonym_key_id=pseudonymizer.key_id,
            regions=region_engines,
            kept_classes=kept,
            now=now,
        )
    # (2) Destroy in the home region, durably.
    regions: tuple[RegionErasure, ...] = ()
    if home in region_engines:
        regions = (_destroy_in(region_engines[home], home, caches, subject_id, kept, now),)
    report = ErasureReport(pseudonym, now, kept, regions, entry_ids)
    if not finish:
        return report
    return finish_erasure(
        directory=directory,
        region_engines=region_engines,
        caches=caches,
        subject_id=subject_id,
        report=report,
    )


def finish_erasure(
    *,
    directory: SubjectDirectory,
    region_engines: Mapping[str, Engine],
    caches: Sequence[SealerCache],
    subject_id: str,
    report: ErasureReport,
) -> ErasureReport:
    """Steps (3)–(5) of an erasure that :func:`erase_subject` made effective."""
    if report.finished:
        return report
    kept, now = report.kept_classes, report.erased_at
    results = {r.region: r for r in report.regions}
    # (3) The other regions: nothing there to wait for without a live key of the subject.
    for region in sorted(set(region_engines) - set(results)):
        engine = region_engines[region]
        if _has_live_keys(engine, subject_id, kept):
            results[region] = _destroy_in(engine, region, caches, subject_id, kept, now)
        else:
            results[region] = RegionErasure(region, (), 0, 0, False)
    # (4) Purge the ciphertext the destroyed keys protected.
    for region, result in results.items():
        deleted = _purge_records(region_engines[region], subject_id, kept, now)
        results[region] = replace(result, records_deleted=result.records_deleted + deleted)
    # (5) Complete.
    with write_transaction(directory.engine) as connection:
        for region, result in results.items():
            if region in report.ledger_entries:
                complete_entry(
                    connection, report.ledger_entries[region], result.destroyed_classes, now
                )
    # (6) Purge the storage.
    purged = tuple(
        replace(results[region], storage_purged=checkpoint(region_engines[region]))
        for region in sorted(results)
    )
    return replace(report, regions=purged, finished=True)


def _destroy_in(
    engine: Engine,
    region: str,
    caches: Sequence[SealerCache],
    subject_id: str,
    kept: tuple[str, ...],
    now: datetime,
) -> RegionErasure:
    # On disk at commit, and without the automatic checkpoint a commit may run
    # (copying up to 64 MiB of WAL after an ingest): the cost of making the
    # erasure effective must not depend on the store; finish_erasure checkpoints next.
    with write_transaction(engine, commit="synced") as connection:
        lock_for_erasure(connection)
        destroyed_ids, classes = _destroy_keys(connection, subject_id, kept, now)
    for cache in caches:
        cache.forget(destroyed_ids)
    return RegionErasure(region, classes, len(destroyed_ids), 0, False)


def _has_live_keys(engine: Engine, subject_id: str, kept: tuple[str, ...]) -> bool:
    with engine.connect() as connection:
        return (
            connection.execute(
                select(DataKeyRow.id)
                .where(
                    DataKeyRow.subject_id == subject_id,
                    DataKeyRow.wrapped.is_not(None),
                    DataKeyRow.retention_class.not_in(kept),
                )
                .limit(1)
            ).first()
            is not None
        )


def _destroy_keys(
    connection: Connection, subject_id: str, kept: tuple[str, ...], now: datetime
) -> tuple[list[str], tuple[str, ...]]:
    live = connection.execute(
        select(DataKeyRow.id, DataKeyRow.retention_class).where(
            DataKeyRow.subject_id == subject_id,
            DataKeyRow.wrapped.is_not(None),
            DataKeyRow.retention_class.not_in(kept),
        )
    ).all()
    key_ids = [row.id for row in live]
    if not key_ids:
        return [], ()
    # Overwrite, not just flag: the row keeps no key material.
    connection.execute(
        update(DataKeyRow).where(DataKeyRow.id.in_(key_ids)).values(wrapped=None, destroyed_at=now)
    )
    return key_ids, tuple(sorted({row.retention_class for row in live}))


def _purge_records(engine: Engine, subject_id: str, kept: tuple[str, ...], now: datetime) -> int:
    """Step (4) in one region: tombstones, then delete records and blind indexes; how many."""
    with write_transaction(engine) as connection:
        destroyed = select(DataKeyRow.id).where(
            DataKeyRow.subject_id == subject_id,
            DataKeyRow.wrapped.is_(None),
            DataKeyRow.retention_class.not_in(kept),
        )
        unreadable = (RecordRow.subject_id == subject_id, RecordRow.key_id.in_(destroyed))
        connection.execute(
            insert(ErasedRecordRow).from_select(
                ["record_id", "erased_at"],
                select(RecordRow.id, literal(now, UTCDateTime())).where(*unreadable),
            )
        )
        purged_ids = select(RecordRow.id).where(*unreadable)
        connection.execute(delete(BlindIndexRow).where(BlindIndexRow.record_id.in_(purged_ids)))
        connection.execute(delete(RequestMarkRow).where(RequestMarkRow.record_id.in_(purged_ids)))
        deleted: int = connection.execute(delete(RecordRow).where(*unreadable)).rowcount
    return deleted
