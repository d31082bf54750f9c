"""Database engines for the control and region databases, and storage purging.

SQLite (the embedded default) runs with:

* ``journal_mode=WAL`` so readers never block the writer;
* ``secure_delete=ON`` so deleted and overwritten cells are zeroed: a destroyed
  wrapped data key must not linger in a free page;
* ``foreign_keys=ON``, ``busy_timeout`` so concurrent writers wait instead of failing;
* a 64 MiB page cache (``cache_size``) so ingest into random-order indexes stays in memory;
* ``synchronous=FULL``: a commit is on disk when it returns, in the control
  database (subjects, principals, the shred ledger, the audit log) and in the
  region databases alike. An accepted record must survive a power cut, and an
  ingest batch's progress, recorded in the control database after each chunk,
  must never count a chunk the region database could still lose. Ingest
  commits once per batch, so the sync costs one fsync per thousand records;
* the WAL checkpointed every ~64 MiB by the committing writer, and after every
  bulk commit by one thread beside the writers (:mod:`servinfo.store._checkpointer`),
  so the copy back into the database file seldom falls on a writer.

Transactions on SQLite start with ``BEGIN`` (deferred) unless the connection
carries the execution option ``servinfo_write=True``, which starts them with
``BEGIN IMMEDIATE``: the store's write transactions take the write lock first so
that a check made inside them (is this subject erased?) cannot go stale before
commit. pysqlite's own transaction handling is switched off for this (the
recipe from SQLAlchemy's SQLite documentation).

Writers queue for a SQLite database on an OS file lock (:mod:`servinfo.store._writers`)
before ``BEGIN IMMEDIATE``: SQLite's own busy handler sleeps in steps of up to
100 ms, so two server workers writing the same database spent most of their
time asleep; a writer blocked on the file lock wakes as soon as it is free.

PostgreSQL URLs (``postgresql://`` or ``postgresql+psycopg://``) use psycopg 3.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL

from servinfo.store._writers import QueuedWriterConnection
from servinfo.store.errors import StoreError

__all__ = [
    "CommitMode",
    "checkpoint",
    "create_engine_for",
    "is_sqlite",
    "lock_for_erasure",
    "lock_for_write",
    "write_transaction",
    "writers_waiting",
]


_BUSY_TIMEOUT_MS = 10_000
_CHECKPOINT_ATTEMPTS = 5
#: Page cache per connection (KiB). SQLite's default, 2 MiB, thrashes once the
#: random-order indexes (record ids, blind indexes) outgrow it during ingest.
_CACHE_KIB = 64 * 1024
#: Checkpoint the WAL every ~64 MiB instead of every 4 MiB: each checkpoint syncs,
#: and at the default, ingest spent more time in checkpoints than in inserts.
_WAL_PAGES = 16_384
#: The execution option that makes a SQLite transaction BEGIN IMMEDIATE.
WRITE_OPTION = "servinfo_write"
#: The execution option that carries a write transaction's :data:`CommitMode`.
_COMMIT_OPTION = "servinfo_commit"
#: When a write transaction's commit is on disk; see :func:`write_transaction`.
CommitMode = Literal["default", "synced", "unsynced"]


def create_engine_for(url: str | URL) -> Engine:
    """An engine for ``url`` configured for the store (the module docstring says how).

    Only file-backed SQLite and PostgreSQL are supported.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise StoreError(
                f"SQLite URL {parsed.render_as_string()!r} names no file; the store "
                "needs a file-backed database, e.g. sqlite:////var/lib/servinfo/eu.db"
            )
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        return create_engine(parsed.set(drivername="postgresql+psycopg"), pool_pre_ping=True)
    raise StoreError(
        f"unsupported database URL scheme {parsed.drivername!r}; "
        "expected sqlite:/// or postgresql://"
    )


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def write_transaction(engine: Engine, *, commit: CommitMode = "default") -> _WriteTransaction:
    """A context manager: a connection in a write transaction, committed on success.

    On SQLite the transaction is ``BEGIN IMMEDIATE``; on PostgreSQL it is an
    ordinary READ COMMITTED transaction. ``commit`` says when the commit is on disk:

    * ``"default"``: on disk when the commit returns (see the module docstring);
    * ``"synced"``: the same, and on SQLite without the automatic checkpoint a
      commit may run, so that its cost does not grow with the WAL: for an
      erasure, which must be effective quickly whatever the store's size;
    * ``"unsynced"``: without waiting for the disk (SQLite ``synchronous=NORMAL``,
      PostgreSQL ``synchronous_commit=off``): visible to every connection at
      once and surviving a crash of the process, but a power cut or OS crash
      may undo it. Only for rows whose loss is harmless — a claim that keeps
      concurrent requests apart, whose outcome is committed durably afterwards —
      never for data or audit entries.
    """
    return _WriteTransaction(engine, commit)


class _WriteTransaction:
    __slots__ = ("_commit", "_connection", "_engine", "_transaction")

    def __init__(self, engine: Engine, commit: CommitMode) -> None:
        self._engine = engine
        self._commit = commit

    def __enter__(self) -> Connection:
        options: dict[str, object] = {WRITE_OPTION: True, _COMMIT_OPTION: self._commit}
        self._connection = self._engine.connect().execution_options(**options)
        self._transaction = self._connection.begin()
        if self._commit == "unsynced" and not is_sqlite(self._engine):
            self._connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        return self._connection

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self._transaction.commit()
            else:
                self._transaction.rollback()
        finally:
            self._connection.close()


def lock_for_write(connection: Connection) -> None:
    """Take the region's writer lock in a write transaction.

    SQLite already holds it (``BEGIN IMMEDIATE``). On PostgreSQL, ROW EXCLUSIVE
    on ``records`` does not block other writers, only erasure's lock below,
    which waits for every writer holding it and blocks new ones until it commits.
    Both lock ``ONLY records``, not its partitions (:mod:`servinfo.store.partitions`):
    the lock is the region's, and a lock on every partition would cost each
    writer one per month and hold off the sweep's partition drops.
    """
    if not is_sqlite(connection.engine):
        connection.exec_driver_sql("LOCK TABLE ONLY records IN ROW EXCLUSIVE MODE")


def lock_for_erasure(connection: Connection) -> None:
    """Wait for in-flight writers of the region and hold new ones off (see above)."""
    if not is_sqlite(connection.engine):
        connection.exec_driver_sql("LOCK TABLE ONLY records IN SHARE ROW EXCLUSIVE MODE")


def writers_waiting(connection: Connection) -> bool:
    """Whether another servinfo writer waits in the queue of ``connection``'s SQLite
    database (:meth:`QueuedWriterConnection.writers_waiting`); False on PostgreSQL."""
    if not is_sqlite(connection.engine):
        return False
    dbapi_connection = connection.connection.dbapi_connection
    return isinstance(dbapi_connection, QueuedWriterConnection) and (
        dbapi_connection.writers_waiting()
    )


def checkpoint(engine: Engine, *, tables: tuple[str, ...] = ("data_keys",)) -> bool:
    """Push deleted bytes out of the database's side files; True when complete.

    SQLite: ``PRAGMA wal_checkpoint(TRUNCATE)`` copies the WAL into the main
    file (where ``secure_delete`` has zeroed the freed cells), syncs it and
    truncates the WAL to zero bytes, so old page images that held destroyed
    keys are gone. It waits (``busy_timeout``) for readers; if a reader still
    pins the WAL after a few attempts, False is returned and the caller reports it.

    PostgreSQL: ``VACUUM`` of ``tables`` (outside any transaction) removes the
    dead row versions. Plain VACUUM makes their space reusable; it does not
    promise to overwrite the bytes, and the server's own WAL keeps them until
    it is recycled. ``docs`` of the store explain the operational side.
    """
    if is_sqlite(engine):
        for attempt in range(_CHECKPOINT_ATTEMPTS):
            with engine.connect() as connection:
                row = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            if row[0] == 0:
                return True
            time.sleep(0.05 * (attempt + 1))
        return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in tables:
            # Table names come from the store's own constants, never from input.
            connection.execute(text(f'VACUUM "{table}"'))
    return True


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(
        url,
        connect_args={
            "timeout": _BUSY_TIMEOUT_MS / 1000,
            "factory": QueuedWriterConnection.factory(url.database or "", _WAL_PAGES),
        },
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Disable pysqlite's implicit BEGIN so that _begin below controls it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        options = connection.get_execution_options()
        dbapi_connection = connection.connection.dbapi_connection
        assert isinstance(dbapi_connection, QueuedWriterConnection)
        dbapi_connection.sync_for_next_transaction(options.get(_COMMIT_OPTION, "default"))
        if not options.get(WRITE_OPTION, False):
            connection.exec_driver_sql("BEGIN")
            return
        dbapi_connection.queue_for_write()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            dbapi_connection.leave_write_queue()
            raise

    return engine
