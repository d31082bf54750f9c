"""An append's rows, inserted while its next entries are built (private).

On SQLite an append spends its time in two places: Python building and hashing
the entries, which holds the GIL, and SQLite inserting their rows, which does
not (``sqlite3`` releases it while a statement steps). So the append builds a
large batch in chunks and hands each chunk's rows to a thread of the log's,
which runs the chunk's insert statements on the append's own connection while
the append builds the next chunk: the two run on two cores.

The connection stays the append transaction's. Between :meth:`ChunkInserts.add`
and the end of the ``with`` block only the thread executes on it, and the block
ends only once the thread has run every statement: the transaction's next
statements and its commit come after all of its rows, in order. A failed
insert fails the append (the transaction rolls back), as an insert made inline
would; when the append itself fails first, the block still waits for the
thread before the rollback.

A batch of one chunk is inserted inline, as is every batch on PostgreSQL (its
``COPY`` already runs in the server's own process).
"""

from __future__ import annotations

import os
import queue
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from types import TracebackType

from sqlalchemy import Connection

from servinfo.audit import _storage

__all__ = ["CHUNK", "ChunkInserts", "InsertThread"]

#: Entries a chunk holds: a few milliseconds of building, enough to cover the thread's
#: insert of the previous chunk and its wait for the GIL (at most the switch interval).
CHUNK = 2_000


class InsertThread:
    """One log's insert thread, started on first use (and again in a forked child): it runs
    what it is given in order.

    A daemon thread of its own rather than a ``ThreadPoolExecutor``: an executor refuses
    work once the interpreter begins to shut down, and the audit buffer's last flush runs
    then (``atexit``). The thread ends when the log is collected.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] | None = None
        self._pid = 0

    def submit(self, function: Callable[..., None], *args: object) -> Future[None]:
        future: Future[None] = Future()
        with self._lock:
            if self._jobs is None or self._pid != os.getpid():
                # A thread does not survive fork: the child starts its own.
                self._jobs = queue.SimpleQueue()
                self._pid = os.getpid()
                threading.Thread(
                    target=_work, args=(self._jobs,), name="servinfo-audit-insert", daemon=True
                ).start()
                weakref.finalize(self, self._jobs.put, None)
            self._jobs.put((future, function, args))
        return future


_Job = tuple["Future[None]", Callable[..., None], tuple[object, ...]]


def _work(jobs: queue.SimpleQueue[_Job | None]) -> None:
    while (job := jobs.get()) is not None:
        future, function, args = job
        if not future.set_running_or_notify_cancel():
            continue
        try:
            function(*args)
        except BaseException as error:  # the append's thread raises it, in its transaction
            future.set_exception(error)
        else:
            future.set_result(None)


class ChunkInserts:
    """The rows of one append's chunks, in its transaction; a context manager."""

    def __init__(self, connection: Connection, thread: InsertThread, entries: int) -> None:
        self._connection = connection
        # More than one chunk on SQLite: something to build while a chunk is inserted.
        pipelined = entries > CHUNK and _storage.is_sqlite(connection)
        self._thread = thread if pipelined else None
        self._driver = _storage.driver_connection(connection) if pipelined else None
        self._pending: list[Future[None]] = []

    def __enter__(self) -> ChunkInserts:
        return self

    def add(
        self,
        first: int,
        leaf_hashes: Sequence[bytes],
        datas: Sequence[bytes],
        pseudonyms: list[bytes],
        seqs: list[int],
    ) -> None:
        """Insert the entries ``first …`` (and the index rows of those about a subject)."""
        if self._thread is None:
            _storage.insert_entries(self._connection, first, leaf_hashes, datas)
            _storage.insert_subject_entries(self._connection, pseudonyms, seqs)
            return
        # Built here, under the GIL the building holds anyway; the thread only steps them.
        statements = list(_storage.sqlite_entry_statements(first, leaf_hashes, datas))
        if seqs:
            statements.append(_storage.sqlite_index_statement(pseudonyms, seqs))
        self._pending.append(self._thread.submit(_storage.execute_all, self._driver, statements))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pending, self._pending = self._pending, []
        failure: BaseException | None = None
        for future in pending:  # every one, even after a failure: the connection is ours again
            error = future.exception()
            failure = failure or error
        if failure is not None and exc is None:
            raise failure
