"""The audit tables' SQL, on SQLite and PostgreSQL (private to :mod:`servinfo.audit.log`).

The hot paths talk to the driver (sqlite3 or psycopg) directly, because
SQLAlchemy's per-statement and per-row work cost more than the statements:

* an append's statements — lock and save the sequencing state, read the
  latest head, read and create salts, insert the rows (on SQLite one
  ``INSERT … SELECT … FROM json_each(?)`` per table and batch, see
  :data:`_SQLITE_ENTRIES`; a binary ``COPY … FROM STDIN`` on PostgreSQL), sign
  a head. The read path's buffer appends small batches many times a second,
  so the per-batch statements count as much as the rows;
* verification's stream of raw rows ``(seq, entry, leaf_hash)`` — a plain
  cursor on SQLite, a server-side cursor on PostgreSQL — in large chunks, so
  a million rows never sit in memory at once.

Driver statements are written once with ``%s`` placeholders (psycopg's) and
run with ``?`` on SQLite; every value is a parameter. Reads for display and
proofs, and erasure, use SQLAlchemy Core.

Every function runs in the caller's connection and transaction: the log
decides where transactions begin and end.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Collection, Generator, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import Connection, delete, select
from sqlalchemy.exc import DBAPIError

from servinfo.audit.errors import AuditError
from servinfo.audit.heads import TreeHead
from servinfo.audit.merkle import CompactRange
from servinfo.audit.models import (
    STATE_ID,
    SUBJECT_BUCKET_BITS,
    AuditEntryRow,
    AuditHeadRow,
    AuditSubjectEntryRow,
    SubjectSaltRow,
    audit_metadata,
)

#: What a missing or altered table raises: the hot paths run on the driver itself, whose
#: errors SQLAlchemy does not wrap.
DATABASE_ERRORS = (DBAPIError, sqlite3.Error, psycopg.Error)
#: Rows fetched per round trip when streaming the log.
CHUNK = 65_536
#: Ids per ``IN (…)`` list: well under SQLite's parameter limit.
_IN_CHUNK = 500
#: The append's SQLite inserts: a chunk's rows in one statement, whatever their number, so
#: that the driver binds a few values per chunk instead of three per row, and SQLite then
#: inserts the whole chunk in one ``sqlite3_step``, which sqlite3 runs without the GIL. The
#: rows' fixed-size values (leaf hashes, pseudonyms) are joined into one blob and cut by
#: ``substr`` (of a BLOB: a BLOB, 1-based byte offsets); an entry's place in its chunk's
#: joined bytes is one JSON integer, ``start << 32 | length``, that ``json_each`` walks
#: (SQLite 3.40 has JSON1, not ``carray``). Multi-row ``VALUES`` of 64 rows (entries) and
#: 500 (index rows) cost about 1 µs of CPU an entry more, most of it binding.
_SQLITE_ENTRIES = (
    "INSERT INTO {table} (seq, leaf_hash, entry)"
    " SELECT ?1 + key, substr(?2, 32 * key + 1, 32),"
    " substr(?3, (value >> 32) + 1, value & 4294967295) FROM json_each(?4)"
)
_SQLITE_INDEX = (
    "INSERT INTO audit_subject_entries (bucket, pseudonym, seq)"  # noqa: S608 (a constant)
    f" SELECT value >> {SUBJECT_BUCKET_BITS}, substr(?1, 16 * key + 1, 16), value"
    " FROM json_each(?2)"
)
_LEAF_SIZE = 32
_PSEUDONYM_SIZE = 16
#: Bytes of entries per SQLite statement at most: well under SQLite's limit for a value
#: (1,000,000,000 by default), so that a batch of any size binds.
_STATEMENT_BYTES = 64 << 20
#: A SQL statement and its parameters.
Statement = tuple[str, tuple[int | bytes | str, ...]]


class _Columns(NamedTuple):
    """A table's three columns that a bulk insert fills, with their COPY types."""

    table: str
    names: tuple[str, str, str]
    types: tuple[str, str, str]


_ENTRY_COLUMNS = _Columns(
    "audit_entries", ("seq", "leaf_hash", "entry"), ("int8", "bytea", "bytea")
)
_INDEX_COLUMNS = _Columns(
    "audit_subject_entries", ("bucket", "pseudonym", "seq"), ("int8", "bytea", "int8")
)

_entries = audit_metadata.tables[AuditEntryRow.__tablename__]
_heads = audit_metadata.tables[AuditHeadRow.__tablename__]
_salts = audit_metadata.tables[SubjectSaltRow.__tablename__]
_subject_entries = audit_metadata.tables[AuditSubjectEntryRow.__tablename__]


def is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


# -- the sequencing state -----------------------------------------------------

_STATE = "SELECT next_seq, frontier, mac FROM audit_state WHERE id = %s"
State = tuple[int, CompactRange, bytes | None]


def lock_state(connection: Connection) -> State:
    """The next seq and the frontier, locked until the transaction ends.

    PostgreSQL: ``SELECT … FOR UPDATE`` on the single row, so concurrent
    batches queue here. SQLite: the caller's ``BEGIN IMMEDIATE`` already holds
    the database's write lock.
    """
    query = _STATE if is_sqlite(connection) else _STATE + " FOR UPDATE"
    return _state_row(_one(connection, query, (STATE_ID,)))


def read_state(connection: Connection) -> State:
    """The next seq, the frontier and their MAC, unlocked (for reads and verification)."""
    return _state_row(_one(connection, _STATE, (STATE_ID,)))


def _state_row(row: tuple[Any, ...] | None) -> State:
    if row is None:
        raise AuditError(
            "the audit log has no state row: the control database was not migrated "
            "with the audit branch (servinfo.audit.AUDIT_MIGRATIONS)"
        )
    next_seq, stored, mac = row
    try:
        frontier = CompactRange.from_bytes(bytes(stored))
        count = int(next_seq)
    except (ValueError, TypeError) as error:
        raise AuditError(f"the audit log's stored state is unreadable: {error}") from None
    return count, frontier, None if mac is None else bytes(mac)


def erasures(connection: Connection) -> int:
    """How many subject salts were ever destroyed (:func:`count_erasure` adds one)."""
    row = _one(connection, "SELECT erasures FROM audit_state WHERE id = %s", (STATE_ID,))
    return 0 if row is None else int(row[0])


def count_erasure(connection: Connection) -> None:
    """Add one to the erasures, in the transaction that destroys a salt."""
    _execute(
        connection, "UPDATE audit_state SET erasures = erasures + 1 WHERE id = %s", (STATE_ID,)
    )


def save_state(connection: Connection, next_seq: int, frontier: bytes, mac: bytes | None) -> None:
    _execute(
        connection,
        "UPDATE audit_state SET next_seq = %s, frontier = %s, mac = %s WHERE id = %s",
        (next_seq, frontier, mac, STATE_ID),
    )


def set_missing_mac(connection: Connection, next_seq: int, frontier: bytes, mac: bytes) -> None:
    """Give a state without a MAC its MAC, if no append changed it since it was read."""
    _execute(
        connection,
        "UPDATE audit_state SET mac = %s"
        " WHERE id = %s AND mac IS NULL AND next_seq = %s AND frontier = %s",
        (mac, STATE_ID, next_seq, frontier),
    )


# -- entries -------------------------------------------------------------------


def insert_entries(
    connection: Connection,
    first: int,
    leaf_hashes: Sequence[bytes],
    datas: Sequence[bytes],
) -> None:
    """Insert the rows ``(first + i, leaf_hashes[i], datas[i])`` in the caller's transaction."""
    if not datas:
        return
    if is_sqlite(connection):
        statements = sqlite_entry_statements(first, leaf_hashes, datas)
        execute_all(driver_connection(connection), statements)
        return
    seqs = range(first, first + len(datas))
    _copy(connection, _ENTRY_COLUMNS, (seqs, leaf_hashes, datas))


def sqlite_entry_statements(
    first: int,
    leaf_hashes: Sequence[bytes],
    datas: Sequence[bytes],
    *,
    table: str = "audit_entries",
) -> Iterator[Statement]:
    """SQLite's statements that insert ``(first + i, leaf_hashes[i], datas[i])`` into
    ``table`` (``audit_entries``; bench/audit.py's baseline names its own): one, unless the
    bytes exceed :data:`_STATEMENT_BYTES` (then halves, until each fits or is one row)."""
    lengths = list(map(len, datas))
    if sum(lengths) > _STATEMENT_BYTES and len(datas) > 1:
        half = len(datas) // 2
        yield from sqlite_entry_statements(first, leaf_hashes[:half], datas[:half], table=table)
        yield from sqlite_entry_statements(
            first + half, leaf_hashes[half:], datas[half:], table=table
        )
        return
    leaves = b"".join(leaf_hashes)
    if len(leaves) != _LEAF_SIZE * len(lengths):
        raise AuditError("an audit leaf hash is not 32 bytes")
    # The starts have one more item than the lengths: the end of the last entry.
    starts = itertools.accumulate(lengths, initial=0)
    places = ",".join([str(start << 32 | length) for start, length in zip(starts, lengths)])  # noqa: B905
    sql = _SQLITE_ENTRIES.format(table=table)
    yield sql, (first, leaves, b"".join(datas), f"[{places}]")


def execute_all(driver: Any, statements: Iterable[Statement]) -> None:
    """Run ``statements`` on the driver's connection ``driver``, in order."""
    for sql, params in statements:
        driver.execute(sql, params)


def sqlite_index_statement(pseudonyms: Sequence[bytes], seqs: Sequence[int]) -> Statement:
    """SQLite's statement that inserts the subjects' index rows of ``(pseudonyms[i], seqs[i])``."""
    joined = b"".join(pseudonyms)
    if len(joined) != _PSEUDONYM_SIZE * len(seqs):
        raise AuditError("an audit pseudonym is not 16 bytes")
    return _SQLITE_INDEX, (joined, "[" + ",".join(map(str, seqs)) + "]")


def _copy(
    connection: Connection,
    columns: _Columns,
    values: tuple[Sequence[int | bytes], Sequence[int | bytes], Sequence[int | bytes]],
) -> None:
    """PostgreSQL's bulk insert: one row per position of ``values`` (a sequence per column)
    into ``columns``' table, by binary COPY."""
    statement = f"COPY {columns.table} ({', '.join(columns.names)}) FROM STDIN (FORMAT BINARY)"
    with driver_connection(connection).cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(list(columns.types))
        for row in zip(*values, strict=True):
            copy.write_row(row)


def stream_chunks(
    connection: Connection, start: int = 0, end: int | None = None, *, chunk: int = CHUNK
) -> Generator[list[tuple[int, bytes, bytes]]]:
    """``(seq, stored bytes, stored leaf hash)`` for ``start <= seq < end``, in seq order, as
    the driver's lists of up to ``chunk`` rows (no per-row step)."""
    where = "seq >= {p}" + ("" if end is None else " AND seq < {p}")
    params: tuple[int, ...] = (start,) if end is None else (start, end)
    # Only constant text is concatenated here; the bounds are parameters.
    sql = "SELECT seq, entry, leaf_hash FROM audit_entries WHERE " + where + " ORDER BY seq"  # noqa: S608
    if is_sqlite(connection):
        cursor = driver_connection(connection).cursor()
        try:
            cursor.arraysize = chunk
            cursor.execute(sql.format(p="?"), params)
            while rows := cursor.fetchmany(chunk):
                yield rows
        finally:
            cursor.close()
        return
    # A named (server-side) cursor, binary so bytea arrives as bytes unparsed.
    with driver_connection(connection).cursor(name="servinfo_audit_stream", binary=True) as cursor:
        cursor.itersize = chunk
        cursor.execute(sql.format(p="%s"), params)
        while rows := cursor.fetchmany(chunk):
            yield rows


def leaf_hashes(connection: Connection, end: int) -> list[bytes]:
    """The stored leaf hashes of entries ``0 <= seq < end``, in seq order."""
    query = select(_entries.c.leaf_hash).where(_entries.c.seq < end).order_by(_entries.c.seq)
    return list(connection.execute(query, execution_options={"yield_per": CHUNK}).scalars())


def leaf_hash_range(connection: Connection, start: int, end: int) -> list[bytes]:
    """The stored leaf hashes of entries ``start <= seq < end``, in seq order (driver cursor:
    the signer reads every leaf since its last checkpoint)."""
    if end <= start:
        return []
    sql = _sql(
        connection,
        "SELECT leaf_hash FROM audit_entries WHERE seq >= %s AND seq < %s ORDER BY seq",
    )
    rows = driver_connection(connection).execute(sql, (start, end)).fetchall()
    return [bytes(leaf) for (leaf,) in rows]


def entry_bytes(connection: Connection, start: int, end: int) -> list[tuple[int, bytes]]:
    """``(seq, stored bytes)`` of ``start <= seq < end``."""
    query = (
        select(_entries.c.seq, _entries.c.entry)
        .where(_entries.c.seq >= start, _entries.c.seq < end)
        .order_by(_entries.c.seq)
    )
    return [(int(seq), bytes(data)) for seq, data in connection.execute(query)]


def last_entries(connection: Connection, count: int) -> list[tuple[int, bytes]]:
    """``(seq, stored bytes)`` of the last ``count`` entries, oldest first."""
    query = select(_entries.c.seq, _entries.c.entry).order_by(_entries.c.seq.desc()).limit(count)
    return [(int(seq), bytes(data)) for seq, data in reversed(connection.execute(query).all())]


# -- checkpoints, cosignatures and legacy heads -------------------------------------


def insert_checkpoint(connection: Connection, size: int, note: bytes, frontier: bytes) -> None:
    """Store a checkpoint; one already stored at that size stays (the signer's state decides)."""
    _execute(
        connection,
        "INSERT INTO audit_checkpoints (tree_size, note, frontier) VALUES (%s, %s, %s)"
        " ON CONFLICT (tree_size) DO NOTHING",
        (size, note, frontier),
    )


def latest_checkpoint_size(connection: Connection) -> int | None:
    row = _one(connection, "SELECT MAX(tree_size) FROM audit_checkpoints")
    return None if row is None or row[0] is None else int(row[0])


def checkpoint_row(connection: Connection, size: int) -> tuple[bytes, bytes] | None:
    """``(note, frontier)`` of the checkpoint of ``size``."""
    row = _one(
        connection, "SELECT note, frontier FROM audit_checkpoints WHERE tree_size = %s", (size,)
    )
    return None if row is None else (bytes(row[0]), bytes(row[1]))


def checkpoint_sizes(connection: Connection) -> list[int]:
    """The sizes of every stored checkpoint, ascending (the primary key alone)."""
    sql = "SELECT tree_size FROM audit_checkpoints ORDER BY tree_size"
    return [int(size) for (size,) in driver_connection(connection).execute(sql).fetchall()]


def checkpoints(connection: Connection) -> list[tuple[int, bytes, bytes]]:
    """Every stored checkpoint ``(size, note, frontier)``, by size."""
    sql = "SELECT tree_size, note, frontier FROM audit_checkpoints ORDER BY tree_size"
    return [
        (int(size), bytes(note), bytes(frontier))
        for size, note, frontier in driver_connection(connection).execute(sql).fetchall()
    ]


def cosignatures(connection: Connection, size: int) -> list[tuple[str, bytes, bytes]]:
    """``(name, key id, signature)`` of each cosignature stored for the checkpoint of ``size``."""
    sql = _sql(
        connection,
        "SELECT name, key_id, signature FROM audit_cosignatures WHERE tree_size = %s"
        " ORDER BY name, key_id",
    )
    rows = driver_connection(connection).execute(sql, (size,)).fetchall()
    return [(str(name), bytes(key_id), bytes(signature)) for name, key_id, signature in rows]


def cosigned_sizes(connection: Connection) -> dict[tuple[str, bytes], int]:
    """The largest checkpoint size each witness key (name, key id) has cosigned."""
    sql = "SELECT name, key_id, MAX(tree_size) FROM audit_cosignatures GROUP BY name, key_id"
    return {
        (str(name), bytes(key_id)): int(size)
        for name, key_id, size in driver_connection(connection).execute(sql).fetchall()
    }


def insert_cosignatures(
    connection: Connection, size: int, rows: Sequence[tuple[str, bytes, bytes]]
) -> None:
    if rows:
        _executemany(
            connection,
            "INSERT INTO audit_cosignatures (tree_size, name, key_id, signature)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [(size, name, key_id, signature) for name, key_id, signature in rows],
        )


def heads(connection: Connection) -> list[tuple[TreeHead, bytes]]:
    """Every stored head with its stored frontier, in the order issued (by size)."""
    query = _head_query().add_columns(_heads.c.frontier).order_by(_heads.c.tree_size)
    return [(_head(row), bytes(row[5])) for row in connection.execute(query)]


def _head_query() -> Any:
    return select(
        _heads.c.tree_size, _heads.c.root_hash, _heads.c.timestamp, _heads.c.key_id,
        _heads.c.signature,
    )  # fmt: skip


def _head(row: Any) -> TreeHead:
    """The head in a row that starts with tree_size, root_hash, timestamp, key_id, signature."""
    tree_size, root_hash, timestamp, key_id, signature = row[:5]
    return TreeHead(int(tree_size), bytes(root_hash), int(timestamp), str(key_id), bytes(signature))


# -- subject salts -------------------------------------------------------------


def salts(connection: Connection, subject_ids: Collection[str]) -> dict[str, bytes]:
    """The stored salt of each of ``subject_ids`` that has one."""
    driver = driver_connection(connection)
    if not is_sqlite(connection):
        rows = driver.execute(
            "SELECT subject_id, salt FROM subject_salts WHERE subject_id = ANY(%s)",
            (list(subject_ids),),
        )
        return {s: bytes(salt) for s, salt in rows}
    ids = list(subject_ids)
    found: dict[str, bytes] = {}
    for i in range(0, len(ids), _IN_CHUNK):
        chunk = ids[i : i + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        # Only placeholders are formatted in; the ids are parameters.
        sql = f"SELECT subject_id, salt FROM subject_salts WHERE subject_id IN ({marks})"  # noqa: S608
        found.update(driver.execute(sql, chunk))
    return found


def insert_salts(connection: Connection, new: dict[str, bytes]) -> None:
    if new:
        _executemany(
            connection,
            "INSERT INTO subject_salts (subject_id, salt) VALUES (%s, %s)",
            list(new.items()),
        )


def delete_salt(connection: Connection, subject_id: str) -> bool:
    result = connection.execute(delete(_salts).where(_salts.c.subject_id == subject_id))
    return bool(result.rowcount)


# -- the subjects' index -------------------------------------------------------------


def insert_subject_entries(
    connection: Connection, pseudonyms: list[bytes], seqs: list[int]
) -> None:
    """Index rows for ``(pseudonyms[i], seqs[i])`` in the caller's transaction (the append's)."""
    if not seqs:
        return
    if is_sqlite(connection):
        driver_connection(connection).execute(*sqlite_index_statement(pseudonyms, seqs))
        return
    buckets = [seq >> SUBJECT_BUCKET_BITS for seq in seqs]
    _copy(connection, _INDEX_COLUMNS, (buckets, pseudonyms, seqs))


#: The buckets ``0 … ?`` of the subjects' index, as a subquery (SQLite).
_BUCKETS = (
    "WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n < ?) SELECT n FROM b"
)
_SELECT_INDEXED = (
    "SELECT e.seq, e.entry FROM audit_subject_entries s JOIN audit_entries e ON e.seq = s.seq"
)
_DELETE_INDEXED = (
    "DELETE FROM audit_subject_entries WHERE bucket IN (" + _BUCKETS + ") AND pseudonym = ?"  # noqa: S608
)


def subject_entries(connection: Connection, pseudonym: bytes, end: int) -> list[tuple[int, bytes]]:
    """``(seq, stored bytes)`` of the entries indexed under ``pseudonym`` with ``seq < end``,
    in seq order: one index seek per bucket."""
    if end <= 0:
        return []
    last = (end - 1) >> SUBJECT_BUCKET_BITS
    if is_sqlite(connection):
        sql = _SELECT_INDEXED + " WHERE s.bucket IN (" + _BUCKETS + ") AND s.pseudonym = ?"
        sql += " AND s.seq < ?"
        params: tuple[Any, ...] = (last, pseudonym, end)
    else:
        sql = _SELECT_INDEXED + " WHERE s.bucket = ANY(%s) AND s.pseudonym = %s AND s.seq < %s"
        params = (list(range(last + 1)), pseudonym, end)
    rows = driver_connection(connection).execute(sql + " ORDER BY s.seq", params).fetchall()
    return [(int(seq), bytes(data)) for seq, data in rows]


def delete_subject_entries(connection: Connection, pseudonyms: Sequence[bytes], end: int) -> None:
    """Delete the index rows of ``pseudonyms`` (entries ``seq < end``): a seek per bucket."""
    if end <= 0 or not pseudonyms:
        return
    last = (end - 1) >> SUBJECT_BUCKET_BITS
    if is_sqlite(connection):
        rows = [(last, pseudonym) for pseudonym in pseudonyms]
        driver_connection(connection).executemany(_DELETE_INDEXED, rows)
        return
    _execute(
        connection,
        "DELETE FROM audit_subject_entries WHERE bucket = ANY(%s) AND pseudonym = ANY(%s)",
        (list(range(last + 1)), list(pseudonyms)),
    )


def driver_connection(connection: Connection) -> Any:
    """The driver's own connection under ``connection``: the bulk paths use it directly."""
    driver = connection.connection.driver_connection
    assert driver is not None
    return driver


def _sql(connection: Connection, sql: str) -> str:
    """``sql`` in the driver's placeholder style: psycopg's ``%s``, sqlite3's ``?``."""
    return sql.replace("%s", "?") if is_sqlite(connection) else sql


def _execute(connection: Connection, sql: str, params: tuple[Any, ...] = ()) -> None:
    driver_connection(connection).execute(_sql(connection, sql), params)


def _executemany(connection: Connection, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
    driver = driver_connection(connection)
    if is_sqlite(connection):
        driver.executemany(_sql(connection, sql), rows)
        return
    with driver.cursor() as cursor:
        cursor.executemany(sql, rows)


def _one(connection: Connection, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    """The first row of a query run on the driver, or None."""
    row: tuple[Any, ...] | None = (
        driver_connection(connection).execute(_sql(connection, sql), params).fetchone()
    )
    return row
