"""Reading records back: INTERNAL to servinfo — only ``servinfo.access`` may import this.

Every read of Service Information must name a purpose and pass the access
layer's decision and audit; this module does neither. It is therefore not
exported from :mod:`servinfo.store`, and a test fails if any package other
than ``servinfo.access`` (and the store's own tests) imports it.

A read opens the ciphertext with the record's data key and its binding (id,
subject, category, kind, region, schema version). Any mismatch — a flipped
byte, a truncated blob, a ciphertext moved to another row or region — raises
:class:`servinfo.crypto.IntegrityError` naming the record and nothing else. A
record whose key was destroyed raises :class:`SubjectErased`; no read ever
returns partial or garbage data.

A record past its retention (``retain_until`` before today) is not served,
even before the retention sweep deletes it: reads skip it, and a read by id
answers as for a record that does not exist. Only a record a legal hold or an
open request keeps (``legal_hold``, set by the sweep) is served past its end.
``today`` is passed in (a clock), so tests choose the date.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select

from servinfo.crypto import BLIND_INDEX, BlindIndexer, IntegrityError, Keyring, UnwrapError
from servinfo.store._codec import decode_fields
from servinfo.store._keys import DEFAULT_CACHE_SIZE, RegionKeys, SealerCache
from servinfo.store._mutations import identifier_field
from servinfo.store._rows import LoadedRecord, RecordFinder, loaded, record_query
from servinfo.store.directory import SubjectDirectory
from servinfo.store.errors import RecordNotFound, StoreError, UnknownRegion
from servinfo.store.models import BlindIndexRow, DataKeyRow, RecordRow

__all__ = ["RecordLocation", "RecordReader", "StoredRecord", "subjects_by_identifier"]


@dataclass(frozen=True)
class StoredRecord:
    """A decrypted record: its plaintext columns and its ``fields``."""

    record_id: str
    region: str
    subject_id: str
    org_id: str
    category: str
    kind: str
    source: str
    collected_at: datetime
    retain_until: date
    legal_hold: bool
    schema_version: int
    retention_class: str
    key_id: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class SealedRecord:
    """A record as fetched: plaintext columns to decide on, the payload still sealed."""

    region: str
    loaded: LoadedRecord

    @property
    def subject_id(self) -> str:
        return self.loaded.subject_id

    @property
    def category(self) -> str:
        return self.loaded.category

    @property
    def kind(self) -> str:
        return self.loaded.kind


@dataclass(frozen=True)
class RecordLocation:
    """Where a record is: what :meth:`RecordReader.get` takes."""

    region: str
    record_id: str


class RecordReader:
    """Decrypting reads over the region databases (for ``servinfo.access`` only)."""

    def __init__(
        self,
        directory: SubjectDirectory,
        region_engines: Mapping[str, Engine],
        keyring: Keyring,
        blind_indexer: BlindIndexer | None = None,
        *,
        cache_size: int = DEFAULT_CACHE_SIZE,
        today: Callable[[], date] | None = None,
    ) -> None:
        for region in region_engines:
            directory.check_region(region)
        self._today = today or _utc_today
        self._directory = directory
        self._engines = dict(region_engines)
        self._last_region = next(iter(self._engines), "")
        self._finders = {region: RecordFinder(engine) for region, engine in self._engines.items()}
        self._indexer = blind_indexer or BlindIndexer(keyring.current(BLIND_INDEX))
        self._keys = {
            region: RegionKeys(region, keyring, SealerCache(cache_size)) for region in self._engines
        }

    def __repr__(self) -> str:
        return f"RecordReader(regions={sorted(self._engines)})"

    def get(self, record_id: str, region: str) -> StoredRecord:
        """The record, or RecordNotFound / SubjectErased / IntegrityError."""
        self._engine(region)  # UnknownRegion
        record = self._finders[region].find(record_id)
        if record is None or self._expired(record):
            raise RecordNotFound(record_id, region)
        return self._open(record, region)

    def fetch(self, record_id: str) -> SealedRecord:
        """The record ``record_id`` from whichever region holds it, still encrypted.

        The access layer decides on a read by id from the sealed record's
        plaintext columns first, so a denied read never decrypts anything; then
        :meth:`open` decrypts. The region that answered last is asked first.
        Each region is one statement on a pooled driver connection
        (:class:`~servinfo.store._rows.RecordFinder`).
        """
        last = self._last_region
        found = self._finders[last].find(record_id) if last else None
        if found is not None:
            return self._live(SealedRecord(last, found))
        for region, finder in self._finders.items():
            if region != last and (found := finder.find(record_id)) is not None:
                self._last_region = region
                return self._live(SealedRecord(region, found))
        raise RecordNotFound(record_id, "any region")

    def _live(self, sealed: SealedRecord) -> SealedRecord:
        if self._expired(sealed.loaded):
            raise RecordNotFound(sealed.loaded.record_id, "any region")
        return sealed

    def _expired(self, record: LoadedRecord) -> bool:
        return record.retain_until < self._today() and not record.legal_hold

    def _not_expired(self) -> ColumnElement[bool]:
        return or_(RecordRow.retain_until >= self._today(), RecordRow.legal_hold.is_(True))

    def open(self, sealed: SealedRecord) -> StoredRecord:
        """Decrypt a fetched record (IntegrityError when it was tampered with)."""
        return self._open(sealed.loaded, sealed.region)

    def find_by_subject(
        self,
        subject_id: str,
        categories: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[StoredRecord]:
        """The subject's readable records in its home region, oldest first.

        ``since`` is inclusive, ``until`` exclusive. Records whose keys were
        destroyed (erased classes) are not returned; a tampered one raises.
        """
        return list(self.iter_by_subject(subject_id, categories, since, until, limit))

    def iter_by_subject(
        self,
        subject_id: str,
        categories: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[StoredRecord]:
        """:meth:`find_by_subject`, decrypting each record only as it is taken.

        The rows are fetched in one statement before the first record is
        returned (no connection stays open while the caller works); a caller
        that turns each record into something else keeps one decrypted record
        at a time instead of all of them.
        """
        subject = self._directory.get_subject(subject_id)
        region = subject.home_region
        query = record_query().where(
            RecordRow.subject_id == subject_id,
            DataKeyRow.wrapped.is_not(None),
            self._not_expired(),
        )
        if categories is not None:
            query = query.where(RecordRow.category.in_(sorted(categories)))
        if since is not None:
            query = query.where(RecordRow.collected_at >= since)
        if until is not None:
            query = query.where(RecordRow.collected_at < until)
        query = query.order_by(RecordRow.collected_at, RecordRow.id)
        if limit is not None:
            if limit < 0:
                raise StoreError(f"limit must be zero or more, got {limit}")
            query = query.limit(limit)
        with self._engine(region).connect() as connection:
            rows = connection.execute(query).all()
        return (self._open(loaded(row), region) for row in rows)

    def find_by_lookup(self, field: str, value: str) -> list[RecordLocation]:
        """Records whose lookup ``field`` equals ``value`` (normalized), via blind indexes."""
        digest = self._indexer.index(field, value)
        found: list[RecordLocation] = []
        for region in sorted(self._engines):
            with self._engines[region].connect() as connection:
                ids = connection.scalars(
                    select(BlindIndexRow.record_id)
                    .where(BlindIndexRow.field == field, BlindIndexRow.digest == digest)
                    .order_by(BlindIndexRow.record_id)
                )
                found.extend(RecordLocation(region, record_id) for record_id in ids)
        return found

    def iter_region(
        self, region: str, batch_size: int = 500, *, kinds: Collection[str] | None = None
    ) -> Iterator[StoredRecord]:
        """Every readable record of ``region`` (of ``kinds``, if given) in (collected_at, id)
        order, in pages."""
        engine = self._engine(region)
        after: tuple[datetime, str] | None = None
        while True:
            query = record_query().where(DataKeyRow.wrapped.is_not(None), self._not_expired())
            if kinds is not None:
                query = query.where(RecordRow.kind.in_(sorted(kinds)))
            if after is not None:
                query = query.where(
                    or_(
                        RecordRow.collected_at > after[0],
                        and_(RecordRow.collected_at == after[0], RecordRow.id > after[1]),
                    )
                )
            query = query.order_by(RecordRow.collected_at, RecordRow.id).limit(batch_size)
            with engine.connect() as connection:
                rows = connection.execute(query).all()
            for row in rows:
                yield self._open(loaded(row), region)
            if len(rows) < batch_size:
                return
            after = (rows[-1].collected_at, rows[-1].id)

    def count_region(self, region: str, kinds: Collection[str]) -> int:
        """How many records :meth:`iter_region` would give for ``kinds`` (as it starts)."""
        query = (
            select(func.count())
            .select_from(RecordRow)
            .join(DataKeyRow, DataKeyRow.id == RecordRow.key_id)
            .where(
                DataKeyRow.wrapped.is_not(None),
                self._not_expired(),
                RecordRow.kind.in_(sorted(kinds)),
            )
        )
        with self._engine(region).connect() as connection:
            return int(connection.execute(query).scalar_one())

    def _open(self, record: LoadedRecord, region: str) -> StoredRecord:
        key = record.key
        if key is None:
            raise IntegrityError(record.record_id)
        try:
            sealer = self._keys[region].sealer(key)
        except UnwrapError:
            # A damaged key row: as opaque as a damaged record.
            raise IntegrityError(record.record_id) from None
        plaintext = sealer.open(record.binding(region), record.ciphertext)
        return StoredRecord(
            record_id=record.record_id,
            region=region,
            subject_id=record.subject_id,
            org_id=record.org_id,
            category=record.category,
            kind=record.kind,
            source=record.source,
            collected_at=record.collected_at,
            retain_until=record.retain_until,
            legal_hold=record.legal_hold,
            schema_version=record.schema_version,
            retention_class=key.retention_class,
            key_id=record.key_id,
            fields=decode_fields(plaintext),
        )

    def _engine(self, region: str) -> Engine:
        try:
            return self._engines[region]
        except KeyError:
            raise UnknownRegion(region, list(self._engines)) from None


def subjects_by_identifier(
    region_engines: Mapping[str, Engine], indexer: BlindIndexer, name: str, value: str
) -> dict[str, str]:
    """The subjects whose records carry the identifier ``name`` with the canonical
    ``value``, each with the region that holds it: ids only, nothing decrypted."""
    field = identifier_field(name)
    digest = indexer.index_exact(field, value)
    found: dict[str, str] = {}
    for region in sorted(region_engines):
        with region_engines[region].connect() as connection:
            subject_ids = connection.scalars(
                select(BlindIndexRow.subject_id)
                .where(BlindIndexRow.field == field, BlindIndexRow.digest == digest)
                .distinct()
            )
            found.update((subject_id, region) for subject_id in subject_ids)
    return found


def _utc_today() -> date:
    return datetime.now(UTC).date()
