"""Reading one record's row together with its data key's row.

Shared by the reader and by the writer's rectify/delete, so both apply the
same rules: no row but a tombstone → :class:`SubjectErased`; a key without key
material → :class:`SubjectErased`; two rows with one id, or a key id that
names no key → :class:`~servinfo.crypto.IntegrityError` (tampering or damage).

:class:`RecordFinder` is :func:`find_record` for the read path: the same two
statements, compiled once per engine, run on the pooled driver connection with
the result columns converted by the columns' own SQLAlchemy result processors,
so it returns the identical :class:`LoadedRecord` at a fraction of the cost
(no Core execution, no result proxy, no explicit ``BEGIN``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, Select, bindparam, select

from servinfo.crypto import IntegrityError, RecordBinding
from servinfo.store._keys import KeyRow
from servinfo.store.errors import RecordNotFound, StoreError, SubjectErased
from servinfo.store.models import DataKeyRow, ErasedRecordRow, RecordRow

__all__ = [
    "LoadedRecord",
    "RecordFinder",
    "find_record",
    "load_record",
    "loaded",
    "record_query",
]


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
    return _checked(loaded(rows[0]), record_id)


def _checked(record: LoadedRecord, record_id: str) -> LoadedRecord:
    if record.key is None:
        raise IntegrityError(record_id)
    if record.key.wrapped is None:
        raise SubjectErased(f"subject {record.subject_id}")
    return record


_Processor = Callable[[Any], Any] | None


class RecordFinder:
    """:func:`find_record` outside any transaction, through the pooled driver connection.

    For reads by id, which run no other statement: Core execution (connection
    wrapper, ``begin`` event, compiled-cache lookup, result proxy) cost ~250 µs
    a read, the query itself ~15 µs. Both statements are compiled here once with
    the engine's dialect; the parameter goes in the dialect's paramstyle, and each
    result column goes through the result processor its SQLAlchemy type gives the
    dialect (``UTCDateTime``'s text → aware datetime on SQLite, ``Date``,
    ``Boolean``), so the :class:`LoadedRecord` is the one :func:`find_record` builds.

    Consistency without a transaction: the record and its key come from *one*
    SELECT, and a single statement reads one snapshot (SQLite: the implicit read
    transaction of an autocommit statement, one WAL snapshot from first step to
    reset; PostgreSQL: READ COMMITTED takes a snapshot per statement), so a
    rectification that swaps key and ciphertext is seen wholly or not at all —
    what the explicit ``BEGIN`` gave. Only when no row is found does a second
    statement look for a tombstone, in a later snapshot; an erasure inserts the
    tombstone in the transaction that deletes the row, and tombstones and ids are
    never reused, so that answer is the one a single snapshot at the second
    statement would give (PostgreSQL's READ COMMITTED already worked this way).
    """

    __slots__ = ("_by_id", "_engine", "_erased", "_param", "_processors")

    def __init__(self, engine: Engine) -> None:
        dialect = engine.dialect
        by_id = _BY_ID.compile(dialect=dialect)
        erased = _ERASED.compile(dialect=dialect)
        self._engine = engine
        self._by_id, self._erased = str(by_id), str(erased)
        # One bound parameter in both statements; positional dialects (SQLite's
        # qmark) list it once, named ones (psycopg's pyformat) take a mapping.
        for compiled in (by_id, erased):
            if compiled.positional and compiled.positiontup != ["record_id"]:
                raise StoreError(f"got parameters {compiled.positiontup}, expected ['record_id']")
        if by_id.binds["record_id"].type.dialect_impl(dialect).bind_processor(dialect):
            raise StoreError(f"record ids need bind processing on {dialect.name}; expected none")
        positional = by_id.positional
        self._param: Callable[[str], Sequence[str] | dict[str, str]] = (
            (lambda record_id: (record_id,))
            if positional
            else (lambda record_id: {"record_id": record_id})
        )
        processors: list[_Processor] = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in _BY_ID.selected_columns
        ]
        self._processors = [(i, p) for i, p in enumerate(processors) if p is not None]

    def find(self, record_id: str) -> LoadedRecord | None:
        """What :func:`find_record` answers, in one pooled driver connection."""
        param = self._param(record_id)
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(self._by_id, param)
                rows = cursor.fetchall()
                if not rows:
                    cursor.execute(self._erased, param)
                    erased = cursor.fetchall()
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool, which rolls back (a no-op on SQLite here)
        if not rows:
            if erased:
                raise SubjectErased(f"the subject of record {record_id}")
            return None
        if len(rows) > 1:
            raise IntegrityError(record_id)
        row = list(rows[0])
        for i, process in self._processors:
            row[i] = process(row[i])
        (rid, subject, org, category, kind, source, collected_at, retain_until, legal_hold,
         schema_version, key_id, ciphertext, k_id, k_subject, k_class, k_scope, k_kek,
         k_wrapped) = row  # fmt: skip
        key = None if k_id is None else KeyRow(k_id, k_subject, k_class, k_scope, k_kek, k_wrapped)
        record = LoadedRecord(
            rid, subject, org, category, kind, source, collected_at, retain_until, legal_hold,
            schema_version, key_id, ciphertext, key,
        )  # fmt: skip
        return _checked(record, record_id)


def load_record(connection: Connection, record_id: str, region: str) -> LoadedRecord:
    """The record ``record_id`` with a live key, or the error that says why not."""
    record = find_record(connection, record_id)
    if record is None:
        raise RecordNotFound(record_id, region)
    return record
