"""Bulk inserts and id-list filters on the ingest hot path.

SQLAlchemy Core ``executemany`` spends more time per row in Python (parameter
construction and type processing) than SQLite spends storing it, and psycopg's
``executemany`` pays a protocol message per row. Ingest therefore bypasses the
per-row machinery:

* SQLite: the driver's ``executemany`` with plain tuples, times and dates
  formatted exactly as SQLAlchemy's SQLite dialect stores them, so reads and
  comparisons through Core agree (``tests/store`` filter by time on both paths).
* PostgreSQL: ``COPY … FROM STDIN`` through psycopg, which adapts Python
  values itself (timestamptz, date, bytea).

Lists of ids are filtered with ``= ANY(array)`` on PostgreSQL (one parameter)
and chunked ``IN (…)`` on SQLite; :func:`fetch_for_ids` runs such a query
through the driver's cursor, as plain tuples, for the per-batch look-ups of
ingest (data keys, erased subjects). Driver errors are re-raised as
SQLAlchemy's (``IntegrityError`` …), as if Core had run the statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, overload

from sqlalchemy import ColumnElement, Connection, String, Table, any_, bindparam, exc
from sqlalchemy.orm import InstrumentedAttribute

from servinfo.store.engines import is_sqlite
from servinfo.store.failures import engine_failure

__all__ = [
    "IN_CHUNK",
    "as_utc",
    "bulk_insert",
    "date_value",
    "fetch_for_ids",
    "id_chunks",
    "id_filter",
    "time_value",
]

#: Ids per IN (...) list on SQLite: well under its parameter limit.
IN_CHUNK = 500


def bulk_insert(
    connection: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` in the caller's transaction.

    Times and dates must already be in driver form: see :func:`time_value` and
    :func:`date_value`. A duplicate key raises SQLAlchemy's ``IntegrityError``
    on both backends.
    """
    if not rows:
        return
    names = ", ".join(columns)
    with _driver_cursor(connection) as (cursor, sqlite):
        if sqlite:
            placeholders = ", ".join("?" * len(columns))
            # Table and column names come from the models, never from input.
            statement = f"INSERT INTO {table.name} ({names}) VALUES ({placeholders})"  # noqa: S608
            with _as_sqlalchemy_error(connection, statement):
                cursor.executemany(statement, rows)
            return
        statement = f"COPY {table.name} ({names}) FROM STDIN"
        with _as_sqlalchemy_error(connection, statement), cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def fetch_for_ids(
    connection: Connection, query: str, ids: Sequence[str | bytes], params: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """The rows of ``query`` for ``ids``, as tuples, in the caller's transaction.

    ``query`` is SQL written by the store (never from input) in which ``{ids}``
    stands for the condition's right-hand side: ``subject_id {ids}`` becomes
    ``subject_id IN (?, …)`` per chunk of :data:`IN_CHUNK` ids on SQLite and
    ``subject_id = ANY(%s)`` with one array on PostgreSQL. Each ``{p}`` before
    ``{ids}`` is a placeholder for the next of ``params``.
    """
    if not ids:
        return []
    found: list[tuple[Any, ...]] = []
    with _driver_cursor(connection) as (cursor, sqlite):
        if sqlite:
            for start in range(0, len(ids), IN_CHUNK):
                chunk = tuple(ids[start : start + IN_CHUNK])
                statement = query.format(ids=f"IN ({', '.join('?' * len(chunk))})", p="?")
                with _as_sqlalchemy_error(connection, statement):
                    found.extend(cursor.execute(statement, (*params, *chunk)).fetchall())
            return found
        statement = query.format(ids="= ANY(%s)", p="%s")
        with _as_sqlalchemy_error(connection, statement):
            cursor.execute(statement, (*params, list(ids)))
            found.extend(cursor.fetchall())
    return found


@contextmanager
def _driver_cursor(connection: Connection) -> Iterator[tuple[Any, bool]]:
    """A cursor of the DBAPI connection under ``connection`` (same transaction), closed after."""
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        yield cursor, is_sqlite(connection.engine)
    finally:
        cursor.close()


@contextmanager
def _as_sqlalchemy_error(connection: Connection, statement: str) -> Iterator[None]:
    dbapi = connection.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as error:
        # Past SQLAlchemy's statement hooks: name a storage failure here as they would.
        failure = engine_failure(error, connection.engine)
        if failure is not None:
            raise failure from None
        raise exc.DBAPIError.instance(statement, None, error, dbapi.Error) from None


def time_value(connection: Connection) -> Callable[[datetime], Any]:
    """How :func:`bulk_insert` wants an aware datetime for a ``UTCDateTime`` column.

    SQLite: the text SQLAlchemy's SQLite dialect stores for naive UTC
    (``YYYY-MM-DD HH:MM:SS.ffffff``), so Core comparisons see the same values;
    PostgreSQL: the datetime itself (timestamptz).
    """
    if is_sqlite(connection.engine):
        return _sqlite_time
    return _identity


def date_value(connection: Connection) -> Callable[[date], Any]:
    """How :func:`bulk_insert` wants a date: ISO text on SQLite, the date on PostgreSQL."""
    return date.isoformat if is_sqlite(connection.engine) else _identity


def _sqlite_time(value: datetime) -> str:
    if value.tzinfo is UTC:  # the usual case: skip the conversion, drop the "+00:00"
        return value.isoformat(" ", "microseconds")[:-6]
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


@overload
def as_utc(value: datetime | str) -> datetime: ...
@overload
def as_utc(value: datetime | str | None) -> datetime | None: ...
def as_utc(value: datetime | str | None) -> datetime | None:
    """A ``UTCDateTime`` column's value as :func:`fetch_for_ids` returns it, read as Core would.

    SQLite hands back the stored text (naive UTC), PostgreSQL an aware datetime.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _identity(value: Any) -> Any:
    return value


def id_chunks(values: Sequence[str], connection: Connection) -> list[Sequence[str]]:
    """``values`` in one piece (PostgreSQL, one array) or in IN-sized chunks (SQLite)."""
    if not is_sqlite(connection.engine):
        return [values]
    return [values[i : i + IN_CHUNK] for i in range(0, len(values), IN_CHUNK)]


def id_filter(
    column: ColumnElement[str] | InstrumentedAttribute[str],
    values: Sequence[str],
    connection: Connection,
) -> ColumnElement[bool]:
    """``column IN values``: one array parameter on PostgreSQL, an IN list on SQLite."""
    if is_sqlite(connection.engine):
        return column.in_(values)
    # Imported here: the PostgreSQL dialect (with its asyncpg and psycopg parts)
    # costs every command ~15 ms to import, and SQLite deployments never need it.
    from sqlalchemy.dialects.postgresql import ARRAY

    return column == any_(bindparam(None, list(values), type_=ARRAY(String())))
