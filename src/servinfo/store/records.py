"""Writing records: validate, route to the home region, seal, index, insert.

Every record is (1) validated and serialized, (2) routed through the subject
directory to its subject's home region — an unknown or erased subject is
refused — then, per region and inside one write transaction, (3) sealed with
AES-256-GCM under its (subject, retention class) data key, bound by associated
data to its id, subject, category, kind, region and schema version, and
(4) inserted together with the keyed blind indexes of its lookup fields and
of its identifiers (the e-mail address, phone number … a person is found by,
indexed exactly in their canonical form under ``identifier:<name>``).
Steps 1–2 run for the whole batch before anything is written, so bad input
writes nothing. Inserts go through the driver in bulk (``executemany`` on
SQLite, ``COPY`` on PostgreSQL; see ``_bulk``), and record ids are ULIDs made
a batch at a time (``_ids``).

A batch is one transaction per region: all or nothing within a region. A batch
spanning regions commits region by region; after the up-front checks only a
database failure or an erasure racing the write can stop it half-way.

Write transactions hold the region's write lock (SQLite ``BEGIN IMMEDIATE``;
PostgreSQL ``LOCK TABLE ONLY records IN ROW EXCLUSIVE MODE``) before re-checking
that no subject of the batch was erased meanwhile. Erasure marks the subject
first and then takes a lock that conflicts with every writer's, so a write
either lands before the erasure (and is erased with the rest) or is refused.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Table, exc

from servinfo.crypto import BLIND_INDEX, BlindIndexer, Keyring, Sealer
from servinfo.store._bulk import bulk_insert, date_value, time_value
from servinfo.store._codec import encode_fields
from servinfo.store._ids import new_ulids
from servinfo.store._keys import DEFAULT_CACHE_SIZE, RegionKeys, SealerCache
from servinfo.store._marks import RequestMark, purge_expired_marks, stored_marks, write_marks
from servinfo.store._mutations import (
    Reseal,
    delete_record,
    identifier_field,
    rectify_record,
    replace_identifiers,
    reseal_records,
)
from servinfo.store._validate import check_name, check_opaque_id, utc_now
from servinfo.store.directory import Subject, SubjectDirectory
from servinfo.store.engines import lock_for_write, write_transaction
from servinfo.store.erasure import ErasureReport, erase_subject, finish_erasure
from servinfo.store.errors import (
    InvalidRecord,
    PayloadTooLarge,
    StoreError,
    SubjectErased,
    UnknownRegion,
    UnknownSubject,
)
from servinfo.store.models import BlindIndexRow, RecordRow
from servinfo.store.partitions import ensure_partitions

__all__ = ["DEFAULT_MAX_PAYLOAD_BYTES", "NewRecord", "RecordWriter", "identifier_field"]

#: Expired request marks are deleted at most this often, per region, by a marked write.
_PURGE_MARKS_EVERY = timedelta(minutes=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Default limit on a record's serialized fields: 1 MiB.
DEFAULT_MAX_PAYLOAD_BYTES = 1 << 20
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
_MAX_SCHEMA_VERSION = 2**32 - 1
#: Policy names (categories, kinds …) are few; remembering valid ones skips a regex a record.
_NAMES_REMEMBERED = 10_000
#: Subjects whose routing (organization, home region) the writer remembers.
_ROUTES_REMEMBERED = 100_000
_RECORDS: Table = RecordRow.__table__  # type: ignore[assignment]
_RECORD_COLUMNS = (
    "id",
    "subject_id",
    "org_id",
    "category",
    "kind",
    "source",
    "collected_at",
    "retain_until",
    "legal_hold",
    "schema_version",
    "key_id",
    "ciphertext",
)
_BLIND_INDEX: Table = BlindIndexRow.__table__  # type: ignore[assignment]
_INDEX_COLUMNS = ("field", "digest", "record_id", "subject_id", "index_key_id")


@dataclass(frozen=True)
class NewRecord:
    """A record to write. ``fields`` are sealed; everything else is a plaintext column.

    ``lookup_fields`` maps a field name (``email``, ``username``) to the value
    to find the record by; only its keyed blind index is stored. The collect
    layer decides, from the policy, which fields those are. ``identifiers`` maps
    an identifier's name (``email``, ``phone``) to its canonical value: indexed
    exactly, not case-folded, so the caller normalises
    (:mod:`servinfo.access.identifiers`).
    """

    subject_id: str
    category: str
    kind: str
    source: str
    collected_at: datetime
    fields: Mapping[str, Any]
    retention_class: str
    retain_until: date
    lookup_fields: Mapping[str, str] = field(default_factory=dict)
    identifiers: Mapping[str, str] = field(default_factory=dict)
    schema_version: int = 1
    record_id: str | None = None
    legal_hold: bool = False


class _Prepared(NamedTuple):
    # A tuple rather than a frozen dataclass: built for every record, and a
    # frozen dataclass pays a setattr per field.
    record: NewRecord
    record_id: str
    payload: bytes


class RecordWriter:
    """Writes, rectifies, deletes and erases records across the region databases.

    ``region_engines`` maps each region to its database; every region needs a
    KEK in ``keyring``. The blind indexer defaults to the keyring's current
    ``blind_index`` key.
    """

    def __init__(
        self,
        directory: SubjectDirectory,
        region_engines: Mapping[str, Engine],
        keyring: Keyring,
        blind_indexer: BlindIndexer | None = None,
        *,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if max_payload_bytes < 1:
            raise StoreError(f"max_payload_bytes must be positive, got {max_payload_bytes}")
        for region in region_engines:
            directory.check_region(region)
        self._directory = directory
        self._engines = dict(region_engines)
        self._keyring = keyring
        self._indexer = blind_indexer or BlindIndexer(keyring.current(BLIND_INDEX))
        self._max_payload = max_payload_bytes
        self._valid_names: set[str] = set()
        self._routes: dict[str, Subject] = {}
        self._marks_purged: dict[str, datetime] = {}
        self._keys = {
            region: RegionKeys(region, keyring, SealerCache(cache_size)) for region in self._engines
        }

    def __repr__(self) -> str:
        return f"RecordWriter(regions={sorted(self._engines)})"

    @property
    def max_payload_bytes(self) -> int:
        return self._max_payload

    # -- writing ---------------------------------------------------------------

    def put(self, record: NewRecord, *, now: datetime | None = None) -> str:
        """Write one record; its id."""
        return self.put_many([record], now=now)[0]

    def put_many(
        self,
        records: Iterable[NewRecord],
        batch_size: int = 1000,
        *,
        now: datetime | None = None,
        marks: Sequence[RequestMark | None] | None = None,
    ) -> list[str]:
        """Write ``records`` in batches of ``batch_size``; their ids, in order.

        Each batch is validated whole before any of it is written. ``marks``, one
        per record (None for a record of no keyed request), make the write of a
        replayed request exactly once: a marked record its region stored before
        is not written again, and its id then is the one stored (see ``_marks``).
        """
        if batch_size < 1:
            raise StoreError(f"batch_size must be positive, got {batch_size}")
        ids: list[str] = []
        iterator = iter(records)
        marked = iter(marks) if marks is not None else None
        while batch := list(islice(iterator, batch_size)):
            batch_marks = list(islice(marked, len(batch))) if marked is not None else None
            if batch_marks is not None and len(batch_marks) != len(batch):
                raise StoreError(f"marks: got {len(batch_marks)} for {len(batch)} records")
            ids.extend(self._put_batch(batch, utc_now(now), batch_marks))
        return ids

    def _put_batch(
        self, batch: list[NewRecord], now: datetime, marks: list[RequestMark | None] | None
    ) -> list[str]:
        # (1) Validate and serialize every record; ids for those without one.
        fresh = iter(new_ulids(len(batch)))
        prepared = [self._prepare(index, record, fresh) for index, record in enumerate(batch)]
        # (2) Route each record to its subject's home region.
        subjects = self._route(p.record.subject_id for p in prepared)
        by_region: dict[str, list[int]] = {}
        for index, item in enumerate(prepared):
            subject = self._routable(subjects.get(item.record.subject_id), item.record.subject_id)
            by_region.setdefault(subject.home_region, []).append(index)
        # (3)+(4) One write transaction per region.
        ids = [item.record_id for item in prepared]
        for region, indices in by_region.items():
            items = [prepared[i] for i in indices]
            region_marks = [marks[i] for i in indices] if marks is not None else None
            stored = self._write_region(
                region, items, {s: subjects[s] for s in _subject_ids(items)}, now, region_marks
            )
            for index, record_id in zip(indices, stored, strict=True):
                ids[index] = record_id
        return ids

    def _prepare(self, index: int, record: NewRecord, fresh_ids: Iterator[str]) -> _Prepared:
        if not isinstance(record, NewRecord):
            raise InvalidRecord(f"{_where(index)} is a {type(record).__name__}, expected NewRecord")
        if record.subject_id not in self._routes:  # routed subjects passed this check before
            if not record.subject_id:
                raise InvalidRecord(
                    f"{_where(index)} has no subject_id; every record belongs to a subject"
                )
            check_opaque_id(record.subject_id, f"{_where(index)}: subject_id", InvalidRecord)
        names = self._valid_names
        if not (
            record.category in names
            and record.kind in names
            and record.source in names
            and record.retention_class in names
        ):
            for value, what in (
                (record.category, "category"),
                (record.kind, "kind"),
                (record.source, "source"),
                (record.retention_class, "retention_class"),
            ):
                self._check_name(value, index, what)
        collected_at = record.collected_at
        if not isinstance(collected_at, datetime) or collected_at.tzinfo is None:
            raise InvalidRecord(f"{_where(index)}: collected_at must be a timezone-aware datetime")
        if isinstance(record.retain_until, datetime) or not isinstance(record.retain_until, date):
            raise InvalidRecord(f"{_where(index)}: retain_until must be a date (not a datetime)")
        version = record.schema_version
        if not isinstance(version, int) or not 0 <= version <= _MAX_SCHEMA_VERSION:
            raise InvalidRecord(f"{_where(index)}: schema_version must be an integer 0 to 2**32-1")
        if record.lookup_fields or record.identifiers:  # most records have neither
            for what, indexed in (
                ("lookup field", record.lookup_fields),
                ("identifier", record.identifiers),
            ):
                for name, value in indexed.items():
                    if name not in names:
                        self._check_name(name, index, f"{what} name")
                    if not isinstance(value, str) or not value.strip():
                        raise InvalidRecord(
                            f"{_where(index)}: {what} {name!r} must be non-empty text"
                        )
        record_id = record.record_id
        if record_id is None:
            record_id = next(fresh_ids)
        elif not isinstance(record_id, str) or not _ULID.fullmatch(record_id):
            raise InvalidRecord(f"{_where(index)}: record_id must be a ULID (26 characters)")
        payload = encode_fields(record.fields, lambda: _where(index))
        if len(payload) > self._max_payload:
            raise PayloadTooLarge(len(payload), self._max_payload)
        return _Prepared(record, record_id, payload)

    def _check_name(self, value: object, index: int, what: str) -> None:
        """Policy names (categories, kinds …) are few: remember the valid ones."""
        names = self._valid_names
        if value not in names:
            check_name(value, f"{_where(index)}: {what}", InvalidRecord)
            if len(names) < _NAMES_REMEMBERED:
                names.add(value)  # type: ignore[arg-type]  # check_name proved it a str

    def _route(self, subject_ids: Iterable[str]) -> dict[str, Subject]:
        """Directory entries of ``subject_ids``, from the routing cache where possible.

        A subject's organization and home region do not change, so they are
        cached; whether it was erased meanwhile is re-read from the directory
        inside every write transaction (:meth:`_write_region`), never cached.
        """
        cache = self._routes
        found: dict[str, Subject] = {}
        missing: list[str] = []
        for subject_id in subject_ids:
            if subject_id in found:
                continue
            cached = cache.get(subject_id)
            if cached is None:
                missing.append(subject_id)
            else:
                found[subject_id] = cached
        if missing:
            fetched = self._directory.subjects(missing)
            found.update(fetched)
            if len(cache) + len(fetched) > _ROUTES_REMEMBERED:
                cache.clear()
            cache.update((s.subject_id, s) for s in fetched.values() if not s.erased)
        return found

    def _routable(self, subject: Subject | None, subject_id: str) -> Subject:
        if subject is None:
            raise UnknownSubject(subject_id)
        if subject.erased:
            raise SubjectErased(f"subject {subject_id}")
        if subject.home_region not in self._engines:
            raise UnknownRegion(subject.home_region, list(self._engines))
        return subject

    def _write_region(
        self,
        region: str,
        items: list[_Prepared],
        subjects: dict[str, Subject],
        now: datetime,
        marks: list[RequestMark | None] | None,
    ) -> list[str]:
        """Write ``items`` in one transaction; the id of each (the stored one for a marked
        item the region stored before)."""
        engine = self._engines[region]
        # PostgreSQL: the month partitions these records go to, made first if new.
        ensure_partitions(engine, ((i.record.category, i.record.collected_at) for i in items))
        # A concurrent writer may create the same data key, or mark the same request
        # lines, first (unique constraints); the second attempt then finds and uses them.
        for attempt in range(2):
            try:
                with write_transaction(engine) as connection:
                    lock_for_write(connection)
                    erased = self._directory.erased_among(subjects)
                    if erased:
                        raise SubjectErased(f"subject {min(erased)}")
                    if not marks or not any(marks):
                        self._insert(connection, region, items, subjects, now)
                        return [item.record_id for item in items]
                    return self._insert_marked(connection, region, items, subjects, now, marks)
            except exc.IntegrityError:
                if attempt:
                    raise InvalidRecord(
                        "a record id of the batch already exists in region "
                        f"{region!r}; record ids must be unique"
                    ) from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _insert_marked(
        self,
        connection: Connection,
        region: str,
        items: list[_Prepared],
        subjects: dict[str, Subject],
        now: datetime,
        marks: list[RequestMark | None],
    ) -> list[str]:
        stored = stored_marks(connection, [m for m in marks if m is not None])
        if not stored:  # the usual case: no line of the request was stored before
            ids = [item.record_id for item in items]
            fresh = items
            marked = [(m, i) for m, i in zip(marks, ids, strict=True) if m is not None]
        else:
            ids, fresh, marked = [], [], []
            for item, mark in zip(items, marks, strict=True):
                found = stored.get(mark.identity) if mark is not None else None
                if found is not None:
                    ids.append(found)
                    continue
                ids.append(item.record_id)
                fresh.append(item)
                if mark is not None:
                    marked.append((mark, item.record_id))
        if fresh:
            self._insert(connection, region, fresh, subjects, now)
            write_marks(connection, marked)
        if now - self._marks_purged.get(region, _EPOCH) >= _PURGE_MARKS_EVERY:
            self._marks_purged[region] = now
            purge_expired_marks(connection, now)
        return ids

    def _insert(
        self,
        connection: Connection,
        region: str,
        items: list[_Prepared],
        subjects: dict[str, Subject],
        now: datetime,
    ) -> None:
        records = [item.record for item in items]
        needed = {(record.subject_id, record.retention_class) for record in records}
        sealers = self._keys[region].sealers_for_write(connection, needed, now)
        keys = [sealers[record.subject_id, record.retention_class] for record in records]
        sealed = Sealer.seal_records(
            region,
            [
                (
                    sealer,
                    record_id,
                    record.subject_id,
                    record.category,
                    record.kind,
                    record.schema_version,
                    payload,
                )
                for (record, record_id, payload), sealer in zip(items, keys, strict=True)
            ],
        )
        as_time, as_date = time_value(connection), date_value(connection)
        rows = [
            (
                record_id,
                record.subject_id,
                subjects[record.subject_id].org_id,
                record.category,
                record.kind,
                record.source,
                as_time(record.collected_at),
                as_date(record.retain_until),
                record.legal_hold,
                record.schema_version,
                sealer.key_id,
                ciphertext,
            )
            for (record, record_id, _), sealer, ciphertext in zip(items, keys, sealed, strict=True)
        ]
        index = self._indexer.index
        index_key_id = self._indexer.key_id
        lookups = [
            (name, index(name, value), record_id, record.subject_id, index_key_id)
            for record, record_id, _ in items
            if record.lookup_fields
            for name, value in record.lookup_fields.items()
        ]
        exact = self._indexer.index_exact
        lookups.extend(
            (column, exact(column, value), record_id, record.subject_id, index_key_id)
            for record, record_id, _ in items
            if record.identifiers
            for column, value in (
                (identifier_field(name), value) for name, value in record.identifiers.items()
            )
        )
        bulk_insert(connection, _RECORDS, _RECORD_COLUMNS, rows)
        bulk_insert(connection, _BLIND_INDEX, _INDEX_COLUMNS, lookups)

    # -- changing and removing ---------------------------------------------------

    def delete(self, record_id: str, region: str) -> None:
        """Delete one record and its blind indexes (and its own data key, if it has one)."""
        delete_record(self._engine(region), record_id, region)

    def rectify(
        self,
        record_id: str,
        region: str,
        new_fields: Mapping[str, Any],
        *,
        lookup_fields: Mapping[str, str] | None = None,
        identifiers: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> None:
        """Correct a record: merge ``new_fields`` into its fields and re-seal it.

        The rectified record gets a fresh data key of its own, so the old
        ciphertext (and any copy of it) no longer shares a key with the new
        version; if the record already had its own key, that key is destroyed.
        ``lookup_fields`` and ``identifiers``, when either is given, replace the
        record's blind indexes (both kinds: give both).
        """
        rectify_record(
            engine=self._engine(region),
            keys=self._keys[region],
            directory=self._directory,
            indexer=self._indexer,
            record_id=record_id,
            new_fields=new_fields,
            lookup_fields=lookup_fields,
            identifiers=identifiers,
            max_payload=self._max_payload,
            now=utc_now(now),
        )

    def reseal(self, region: str, items: Sequence[Reseal]) -> list[bool]:
        """Write re-redacted fields back, each record sealed again under its key, in one
        transaction; per item, whether it was rewritten (False: the record changed or
        went since it was read). See :func:`servinfo.store._mutations.reseal_records`."""
        return reseal_records(
            engine=self._engine(region),
            keys=self._keys[region],
            items=items,
            max_payload=self._max_payload,
        )

    def set_identifiers(
        self, record_id: str, region: str, subject_id: str, identifiers: Mapping[str, str]
    ) -> None:
        """Replace a record's identifier indexes (canonical values by identifier name)
        without touching the record: for records stored before their kind had any."""
        replace_identifiers(self._engine(region), self._indexer, record_id, subject_id, identifiers)

    def erase_subject(
        self,
        subject_id: str,
        keep_classes: Collection[str] = (),
        *,
        now: datetime | None = None,
        finish: bool = True,
    ) -> ErasureReport:
        """Crypto-shred a subject in every region, keeping the classes in ``keep_classes``.

        With ``finish=False`` it returns as soon as the erasure is durably
        effective, and :meth:`finish_erasure` does the rest (the other regions,
        the shred ledger, purging the storage). See :mod:`servinfo.store.erasure`
        for the steps and guarantees.
        """
        return erase_subject(
            directory=self._directory,
            region_engines=self._engines,
            keyring=self._keyring,
            caches=[keys.cache for keys in self._keys.values()],
            subject_id=subject_id,
            keep_classes=keep_classes,
            now=utc_now(now),
            finish=finish,
        )

    def finish_erasure(self, subject_id: str, report: ErasureReport) -> ErasureReport:
        """The rest of an erasure started with ``finish=False``; the complete report."""
        return finish_erasure(
            directory=self._directory,
            region_engines=self._engines,
            caches=[keys.cache for keys in self._keys.values()],
            subject_id=subject_id,
            report=report,
        )

    def _engine(self, region: str) -> Engine:
        try:
            return self._engines[region]
        except KeyError:
            raise UnknownRegion(region, list(self._engines)) from None


def _where(index: int) -> str:
    # Only built for error messages: formatting it for every record costs ingest time.
    return f"record {index} of the batch"


def _subject_ids(items: list[_Prepared]) -> Iterator[str]:
    return iter(dict.fromkeys(p.record.subject_id for p in items))
