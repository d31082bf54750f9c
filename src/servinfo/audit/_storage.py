"""The audit tables' SQL, on SQLite and PostgreSQL (private to :mod:`servinfo.audit.log`).

Two paths. The hot ones bypass SQLAlchemy's per-row work: appends insert
with the driver's ``executemany`` of plain tuples (SQLite) or a binary
``COPY … FROM STDIN`` (PostgreSQL, psycopg), and verification streams raw
driver rows ``(seq, entry, leaf_hash)`` — a plain cursor on SQLite, a
server-side cursor on PostgreSQL — in large chunks, so a million rows never
sit in memory at once. Everything else (heads, state, salts) is SQLAlchemy Core.

Every function runs in the caller's connection and transaction: the log
decides where transactions begin and end.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterator
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from servinfo.audit.errors import AuditError
from servinfo.audit.heads import TreeHead
from servinfo.audit.merkle import CompactRange
from servinfo.audit.models import (
    STATE_ID,
    AuditEntryRow,
    AuditHeadRow,
    AuditStateRow,
    SubjectSaltRow,
    audit_metadata,
)

#: Rows fetched per round trip when streaming the log.
CHUNK = 65_536
#: Ids per ``IN (…)`` list: well under SQLite's parameter limit.
_IN_CHUNK = 500

_entries = audit_metadata.tables[AuditEntryRow.__tablename__]
_heads = audit_metadata.tables[AuditHeadRow.__tablename__]
_state = audit_metadata.tables[AuditStateRow.__tablename__]
_salts = audit_metadata.tables[SubjectSaltRow.__tablename__]


def is_sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


# -- the sequencing state -----------------------------------------------------


def lock_state(connection: Connection) -> tuple[int, CompactRange]:
    """The next seq and the frontier, locked until the transaction ends.

    PostgreSQL: ``SELECT … FOR UPDATE`` on the single row, so concurrent
    batches queue here. SQLite: the caller's ``BEGIN IMMEDIATE`` already holds
    the database's write lock.
    """
    return _read_state(connection, lock=True)


def read_state(connection: Connection) -> tuple[int, CompactRange]:
    """The next seq and the frontier, unlocked (for reads and verification)."""
    return _read_state(connection, lock=False)


def _read_state(connection: Connection, *, lock: bool) -> tuple[int, CompactRange]:
    query = select(_state.c.next_seq, _state.c.frontier).where(_state.c.id == STATE_ID)
    row = connection.execute(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        raise AuditError(
            "the audit log has no state row: the control database was not migrated "
            "with the audit branch (servinfo.audit.AUDIT_MIGRATIONS)"
        )
    try:
        frontier = CompactRange.from_bytes(row.frontier)
    except ValueError as error:
        raise AuditError(f"the audit log's stored frontier is unreadable: {error}") from None
    return int(row.next_seq), frontier


def save_state(connection: Connection, next_seq: int, frontier: bytes) -> None:
    connection.execute(
        update(_state).where(_state.c.id == STATE_ID).values(next_seq=next_seq, frontier=frontier)
    )


# -- entries -------------------------------------------------------------------


def insert_entries(connection: Connection, rows: list[tuple[int, bytes, bytes, int]]) -> None:
    """Insert ``(seq, leaf_hash, entry, at)`` rows in the caller's transaction."""
    if is_sqlite(connection):
        # The driver's own executemany: SQLAlchemy would inspect every parameter tuple.
        _driver(connection).executemany(
            "INSERT INTO audit_entries (seq, leaf_hash, entry, at) VALUES (?, ?, ?, ?)", rows
        )
        return
    statement = "COPY audit_entries (seq, leaf_hash, entry, at) FROM STDIN (FORMAT BINARY)"
    with _driver(connection).cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(["int8", "bytea", "bytea", "int8"])
        for row in rows:
            copy.write_row(row)


def stream_entries(
    connection: Connection, start: int = 0, end: int | None = None, *, chunk: int = CHUNK
) -> Iterator[tuple[int, bytes, bytes]]:
    """``(seq, stored bytes, stored leaf hash)`` for ``start <= seq < end``, in seq order."""
    for rows in stream_chunks(connection, start, end, chunk=chunk):
        yield from rows


def stream_chunks(
    connection: Connection, start: int = 0, end: int | None = None, *, chunk: int = CHUNK
) -> Generator[list[tuple[int, bytes, bytes]]]:
    """:func:`stream_entries` as the driver's lists of up to ``chunk`` rows (no per-row step)."""
    where = "seq >= {p}" + ("" if end is None else " AND seq < {p}")
    params: tuple[int, ...] = (start,) if end is None else (start, end)
    # Only constant text is concatenated here; the bounds are parameters.
    sql = "SELECT seq, entry, leaf_hash FROM audit_entries WHERE " + where + " ORDER BY seq"  # noqa: S608
    if is_sqlite(connection):
        cursor = _driver(connection).cursor()
        try:
            cursor.arraysize = chunk
            cursor.execute(sql.format(p="?"), params)
            while rows := cursor.fetchmany(chunk):
                yield rows
        finally:
            cursor.close()
        return
    # A named (server-side) cursor, binary so bytea arrives as bytes unparsed.
    with _driver(connection).cursor(name="servinfo_audit_stream", binary=True) as cursor:
        cursor.itersize = chunk
        cursor.execute(sql.format(p="%s"), params)
        while rows := cursor.fetchmany(chunk):
            yield rows


def leaf_hashes(connection: Connection, end: int) -> list[bytes]:
    """The stored leaf hashes of entries ``0 <= seq < end``, in seq order."""
    query = select(_entries.c.leaf_hash).where(_entries.c.seq < end).order_by(_entries.c.seq)
    return list(connection.execute(query, execution_options={"yield_per": CHUNK}).scalars())


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


# -- heads ---------------------------------------------------------------------


def insert_head(connection: Connection, head: TreeHead, frontier: bytes) -> None:
    connection.execute(
        insert(_heads).values(
            tree_size=head.tree_size,
            root_hash=head.root_hash,
            timestamp=head.timestamp,
            key_id=head.key_id,
            signature=head.signature,
            frontier=frontier,
        )
    )


def latest_head(connection: Connection) -> TreeHead | None:
    row = connection.execute(_head_query().order_by(_heads.c.tree_size.desc()).limit(1)).first()
    return None if row is None else _head(row)


def head_of_size(connection: Connection, tree_size: int) -> TreeHead | None:
    row = connection.execute(_head_query().where(_heads.c.tree_size == tree_size)).first()
    return None if row is None else _head(row)


def heads(connection: Connection) -> list[tuple[TreeHead, bytes]]:
    """Every stored head with its stored frontier, in the order issued (by size)."""
    query = _head_query().add_columns(_heads.c.frontier).order_by(_heads.c.tree_size)
    return [(_head(row), bytes(row.frontier)) for row in connection.execute(query)]


def _head_query() -> Any:
    return select(
        _heads.c.tree_size, _heads.c.root_hash, _heads.c.timestamp, _heads.c.key_id,
        _heads.c.signature,
    )  # fmt: skip


def _head(row: Any) -> TreeHead:
    return TreeHead(
        int(row.tree_size),
        bytes(row.root_hash),
        int(row.timestamp),
        str(row.key_id),
        bytes(row.signature),
    )


# -- subject salts -------------------------------------------------------------


def salts(connection: Connection, subject_ids: Collection[str]) -> dict[str, bytes]:
    """The stored salt of each of ``subject_ids`` that has one.

    Raw driver rows: a batch asks for up to a thousand subjects, and
    SQLAlchemy's row processing cost more than the query.
    """
    ids = sorted(subject_ids)
    cursor = _driver(connection).cursor()
    try:
        if not is_sqlite(connection):
            cursor.execute(
                "SELECT subject_id, salt FROM subject_salts WHERE subject_id = ANY(%s)", (ids,)
            )
            return {s: bytes(salt) for s, salt in cursor.fetchall()}
        found: dict[str, bytes] = {}
        for i in range(0, len(ids), _IN_CHUNK):
            chunk = ids[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            cursor.execute(
                f"SELECT subject_id, salt FROM subject_salts WHERE subject_id IN ({marks})",  # noqa: S608
                chunk,
            )
            found.update(cursor.fetchall())
        return found
    finally:
        cursor.close()


def insert_salts(connection: Connection, new: dict[str, bytes]) -> None:
    if new:
        connection.execute(
            insert(_salts), [{"subject_id": s, "salt": salt} for s, salt in new.items()]
        )


def delete_salt(connection: Connection, subject_id: str) -> bool:
    result = connection.execute(delete(_salts).where(_salts.c.subject_id == subject_id))
    return bool(result.rowcount)


def _driver(connection: Connection) -> Any:
    driver = connection.connection.driver_connection
    assert driver is not None
    return driver
