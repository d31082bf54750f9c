"""Reading one record's row together with its data key's row.

Shared by the reader and by the writer's rectify/delete, so both apply the
same rules: no row but a tombstone → :class:`SubjectErased`; a key without key
material → :class:`SubjectErased`; two rows with one id, or a key id that
names no key → :class:`~servinfo.crypto.IntegrityError` (tampering or damage).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, select

from servinfo.crypto import IntegrityError, RecordBinding
from servinfo.store._keys import KeyRow
from servinfo.store.errors import RecordNotFound, SubjectErased
from servinfo.store.models import DataKeyRow, ErasedRecordRow, RecordRow

__all__ = ["LoadedRecord", "find_record", "load_record", "loaded", "record_query"]


@dataclass(frozen=True, slots=True)
class LoadedRecord:
    """A record's plaintext columns, its ciphertext and its key's row."""

    record_id: str
    subject_id: str
    org_id: str
    category: str
    kind: str
    source: str
    collected_at: datetime
    retain_until: date
    legal_hold: bool
    schema_version: int
    key_id: str
    ciphertext: bytes
    key: KeyRow | None

    def binding(self, region: str) -> RecordBinding:
        return RecordBinding(
            self.record_id, self.subject_id, self.category, self.kind, region, self.schema_version
        )


def record_query() -> Select[*tuple[Any, ...]]:
    """Records joined to their data keys; add the WHERE and ORDER BY."""
    return select(
        RecordRow.id,
        RecordRow.subject_id,
        RecordRow.org_id,
        RecordRow.category,
        RecordRow.kind,
        RecordRow.source,
        RecordRow.collected_at,
        RecordRow.retain_until,
        RecordRow.legal_hold,
        RecordRow.schema_version,
        RecordRow.key_id,
        RecordRow.ciphertext,
        DataKeyRow.id.label("k_id"),
        DataKeyRow.subject_id.label("k_subject"),
        DataKeyRow.retention_class.label("k_class"),
        DataKeyRow.scope.label("k_scope"),
        DataKeyRow.kek_id.label("k_kek"),
        DataKeyRow.wrapped.label("k_wrapped"),
    ).outerjoin(DataKeyRow, DataKeyRow.id == RecordRow.key_id)


def loaded(row: Row[*tuple[Any, ...]]) -> LoadedRecord:
    key = (
        None
        if row.k_id is None
        else KeyRow(row.k_id, row.k_subject, row.k_class, row.k_scope, row.k_kek, row.k_wrapped)
    )
    return LoadedRecord(
        record_id=row.id,
        subject_id=row.subject_id,
        org_id=row.org_id,
        category=row.category,
        kind=row.kind,
        source=row.source,
        collected_at=row.collected_at,
        retain_until=row.retain_until,
        legal_hold=row.legal_hold,
        schema_version=row.schema_version,
        key_id=row.key_id,
        ciphertext=row.ciphertext,
        key=key,
    )


# Built once: a statement object reused with bound values skips SQLAlchemy's
# construction and compiles once per engine, which a read by id needs to be fast.
_BY_ID = record_query().where(RecordRow.id == bindparam("record_id"))
_ERASED = select(ErasedRecordRow.record_id).where(
    ErasedRecordRow.record_id == bindparam("record_id")
)


def find_record(connection: Connection, record_id: str) -> LoadedRecord | None:
    """The record ``record_id`` if this database holds it with a live key.

    None when it is not here at all; :class:`SubjectErased` when it was here and
    its subject was erased; :class:`IntegrityError` for a damaged row.
    """
    rows = connection.execute(_BY_ID, {"record_id": record_id}).all()
    if not rows:
        if connection.scalar(_ERASED, {"record_id": record_id}) is not None:
            raise SubjectErased(f"the subject of record {record_id}")
        return None
    if len(rows) > 1:
        raise IntegrityError(record_id)
    record = loaded(rows[0])
    if record.key is None:
        raise IntegrityError(record_id)
    if record.key.wrapped is None:
        raise SubjectErased(f"subject {record.subject_id}")
    return record


def load_record(connection: Connection, record_id: str, region: str) -> LoadedRecord:
    """The record ``record_id`` with a live key, or the error that says why not."""
    record = find_record(connection, record_id)
    if record is None:
        raise RecordNotFound(record_id, region)
    return record
