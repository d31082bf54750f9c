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
and chunked ``IN (…)`` on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, Table, any_, bindparam, exc
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute

from servinfo.store.engines import is_sqlite

__all__ = ["IN_CHUNK", "bulk_insert", "date_value", "id_chunks", "id_filter", "time_value"]

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
    if is_sqlite(connection.engine):
        placeholders = ", ".join("?" * len(columns))
        # Table and column names come from the models, never from input.
        connection.exec_driver_sql(
            f"INSERT INTO {table.name} ({names}) VALUES ({placeholders})",  # noqa: S608
            rows,
        )
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    statement = f"COPY {table.name} ({names}) FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except connection.dialect.loaded_dbapi.IntegrityError as error:
        raise exc.IntegrityError(statement, None, error) from None


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
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


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
    return column == any_(bindparam(None, list(values), type_=ARRAY(String())))
