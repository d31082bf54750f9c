"""Deleting, rectifying and re-sealing records (the writer's less frequent operations).

Each runs in one write transaction holding the region's writer lock, like
ingest, so they cannot interleave with an erasure of the same subject.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, update

from servinfo.crypto import BlindIndexer
from servinfo.store._codec import decode_fields, encode_fields
from servinfo.store._keys import RegionKeys
from servinfo.store._rows import load_record
from servinfo.store._validate import check_name
from servinfo.store.directory import SubjectDirectory
from servinfo.store.engines import lock_for_write, write_transaction
from servinfo.store.errors import InvalidRecord, PayloadTooLarge, RecordNotFound, SubjectErased
from servinfo.store.models import BlindIndexRow, DataKeyRow, RecordRow

__all__ = [
    "IDENTIFIER_PREFIX",
    "Reseal",
    "delete_record",
    "identifier_field",
    "rectify_record",
    "replace_identifiers",
    "reseal_records",
]

#: The blind-index column name of an identifier is this prefix and its name: ``:`` is
#: not in a policy id, so no lookup field can share an identifier's column.
IDENTIFIER_PREFIX = "identifier:"


def identifier_field(name: str) -> str:
    """The ``blind_index.field`` of the identifier ``name`` (``identifier:email``)."""
    return IDENTIFIER_PREFIX + name


def delete_record(engine: Engine, record_id: str, region: str) -> None:
    """Delete a record, its blind indexes, and its own data key if it has one."""
    with write_transaction(engine) as connection:
        lock_for_write(connection)
        record = load_record(connection, record_id, region)
        connection.execute(delete(BlindIndexRow).where(BlindIndexRow.record_id == record_id))
        connection.execute(delete(RecordRow).where(RecordRow.id == record_id))
        if record.key is not None and record.key.scope == record_id:
            # A key of the record's own protects nothing else: it goes too.
            connection.execute(delete(DataKeyRow).where(DataKeyRow.id == record.key.key_id))


def rectify_record(
    *,
    engine: Engine,
    keys: RegionKeys,
    directory: SubjectDirectory,
    indexer: BlindIndexer,
    record_id: str,
    new_fields: Mapping[str, Any],
    lookup_fields: Mapping[str, str] | None,
    max_payload: int,
    identifiers: Mapping[str, str] | None = None,
    now: datetime,
) -> None:
    """Merge ``new_fields`` into the record and re-seal it under a fresh key of its own."""
    region = keys.region
    with write_transaction(engine) as connection:
        lock_for_write(connection)
        # (1) The record, its live key, and a subject that is not erased.
        record = load_record(connection, record_id, region)
        assert record.key is not None  # load_record guarantees a live key
        if directory.erased_among([record.subject_id]):
            raise SubjectErased(f"subject {record.subject_id}")
        # (2) Open the current version (an IntegrityError stops here) and merge.
        binding = record.binding(region)
        fields = decode_fields(keys.sealer(record.key).open(binding, record.ciphertext))
        fields.update(new_fields)
        payload = encode_fields(fields, f"record {record_id}")
        if len(payload) > max_payload:
            raise PayloadTooLarge(len(payload), max_payload)
        # (3) Retire a previous own key, then seal under a new one.
        if record.key.scope == record_id:
            connection.execute(delete(DataKeyRow).where(DataKeyRow.id == record.key.key_id))
            keys.cache.forget([record.key.key_id])
        sealer = keys.create_own_key(
            connection, record.subject_id, record.key.retention_class, record_id, now
        )
        connection.execute(
            update(RecordRow)
            .where(RecordRow.id == record_id)
            .values(key_id=sealer.key_id, ciphertext=sealer.seal(binding, payload))
        )
        # (4) New lookup values and identifiers replace the old blind indexes.
        if lookup_fields is not None or identifiers is not None:
            _replace_indexes(
                connection,
                indexer,
                record_id,
                record.subject_id,
                lookup_fields or {},
                identifiers or {},
            )


@dataclass(frozen=True)
class Reseal:
    """Replace fields of a record, if its fields are still ``expected`` (as read)."""

    record_id: str
    expected: Mapping[str, Any]
    new_fields: Mapping[str, Any]


def reseal_records(
    *, engine: Engine, keys: RegionKeys, items: Sequence[Reseal], max_payload: int
) -> list[bool]:
    """Merge each item's ``new_fields`` into its record and seal it again under the key
    it has, in one transaction; per item, whether it was rewritten.

    An item whose record changed since it was read (rectified, or rewritten by another
    pass), whose record is gone, or whose subject was erased since, is left as it is
    (False): the caller read a version that no longer stands. The fields are compared
    whole, so nothing written meanwhile is overwritten. Used to write re-redacted free
    text back (:mod:`servinfo.collect.reredaction`): the values are only ever removed,
    so the record keeps its data key, and its own key if it had one.
    """
    region = keys.region
    done: list[bool] = []
    with write_transaction(engine) as connection:
        lock_for_write(connection)
        for item in items:
            try:
                record = load_record(connection, item.record_id, region)
            except (RecordNotFound, SubjectErased):
                done.append(False)
                continue
            assert record.key is not None  # load_record guarantees a live key
            binding = record.binding(region)
            sealer = keys.sealer(record.key)
            fields = decode_fields(sealer.open(binding, record.ciphertext))
            if fields != item.expected:
                done.append(False)
                continue
            fields.update(item.new_fields)
            payload = encode_fields(fields, f"record {item.record_id}")
            if len(payload) > max_payload:
                raise PayloadTooLarge(len(payload), max_payload)
            connection.execute(
                update(RecordRow)
                .where(RecordRow.id == item.record_id)
                .values(ciphertext=sealer.seal(binding, payload))
            )
            done.append(True)
    return done


def replace_identifiers(
    engine: Engine,
    indexer: BlindIndexer,
    record_id: str,
    subject_id: str,
    identifiers: Mapping[str, str],
) -> None:
    """Replace the record's identifier indexes only (its lookup fields' stay as they are)."""
    rows = _identifier_rows(indexer, record_id, subject_id, identifiers)
    with write_transaction(engine) as connection:
        lock_for_write(connection)
        connection.execute(
            delete(BlindIndexRow).where(
                BlindIndexRow.record_id == record_id,
                BlindIndexRow.field.startswith(IDENTIFIER_PREFIX, autoescape=True),
            )
        )
        if rows:
            connection.execute(insert(BlindIndexRow), rows)


def _identifier_rows(
    indexer: BlindIndexer, record_id: str, subject_id: str, identifiers: Mapping[str, str]
) -> list[dict[str, object]]:
    """The ``blind_index`` rows of a record's identifiers (canonical values, indexed exactly)."""
    rows: list[dict[str, object]] = []
    for name, value in identifiers.items():
        check_name(name, "identifier name", InvalidRecord)
        if not isinstance(value, str) or not value.strip():
            raise InvalidRecord(f"identifier {name!r} must be non-empty text")
        field = identifier_field(name)
        rows.append(
            {
                "field": field,
                "digest": indexer.index_exact(field, value),
                "record_id": record_id,
                "subject_id": subject_id,
                "index_key_id": indexer.key_id,
            }
        )
    return rows


def _replace_indexes(
    connection: Connection,
    indexer: BlindIndexer,
    record_id: str,
    subject_id: str,
    lookup_fields: Mapping[str, str],
    identifiers: Mapping[str, str],
) -> None:
    rows = _identifier_rows(indexer, record_id, subject_id, identifiers)
    for name, value in lookup_fields.items():
        check_name(name, "lookup field name", InvalidRecord)
        if not isinstance(value, str) or not value.strip():
            raise InvalidRecord(f"lookup field {name!r} must be non-empty text")
        rows.append(
            {
                "field": name,
                "digest": indexer.index(name, value),
                "record_id": record_id,
                "subject_id": subject_id,
                "index_key_id": indexer.key_id,
            }
        )
    connection.execute(delete(BlindIndexRow).where(BlindIndexRow.record_id == record_id))
    if rows:
        connection.execute(insert(BlindIndexRow), rows)
