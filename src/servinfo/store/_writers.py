"""Servinfo's SQLite connections: a writer queue, and commits that may skip the sync.

The queue SQLite writers wait in is an OS file lock beside each database.

SQLite admits one writer per database. A second one gets ``SQLITE_BUSY`` and
its busy handler retries after sleeping 1, 2, 5, … up to 100 ms, so writers of
several threads or server workers spend most of their waits asleep after the
lock is already free. Before ``BEGIN IMMEDIATE`` a servinfo writer therefore
takes an exclusive ``flock(2)`` on ``<database>-writers``; the kernel wakes a
waiter the moment the writer before it commits or rolls back.

The file lock is only a queue: SQLite's own lock still guards the data, and a
writer that does not queue (another tool) is still met by ``busy_timeout``.

No new deadlock: a thread blocks on a queue only while it holds no other one.
A thread already inside a queued write transaction (of another database) just
tries the second queue and, if it is taken, goes straight to SQLite's lock,
whose busy timeout ends a lock-order inversion with an error, as before. The
kernel drops the lock of a process that dies; a connection drops it when its
transaction ends (commit, rollback, close — the pool rolls back every
connection it takes back).

Waiters are visible: a writer that finds the queue taken holds a shared
``flock`` on ``<database>-waiting`` from just before it blocks until it got the
queue, so that a long writer (the retention sweep, which runs several windows
in one transaction) can ask :meth:`QueuedWriterConnection.writers_waiting` —
an exclusive non-blocking try on that file, released at once — and commit as
soon as someone queues. ``flock`` locks belong to the open file, so a writer in
another thread of the same process is seen as one in another process. A writer
that does not queue (another tool, or a thread already holding another queue,
see above) is not seen: the long writer bounds its transaction anyway. Where the
file cannot be opened (read-only file system, as for the queue), no one is seen.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from servinfo.store._checkpointer import wal_checkpointer

__all__ = ["QueuedWriterConnection", "waiting_writers_path", "writer_queue_path"]

#: Every commit on disk when it returns (see ``servinfo.store.engines``).
_SYNCHRONOUS = "FULL"
_depth_lock = threading.Lock()
#: How many queues each thread holds, by thread id.
_depth: dict[int, int] = {}


def writer_queue_path(database: str) -> str:
    return f"{database}-writers"


def waiting_writers_path(database: str) -> str:
    return f"{database}-waiting"


def _open_queue(path: str) -> int:
    """The queue's file, or -1 when it cannot be created or opened.

    A database on a read-only file system (or in a directory this process may
    not write) still answers reads; its writes fail in SQLite with a cause the
    store reports (``servinfo.store.failures``), rather than every connection
    failing here with a bare OSError.
    """
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        pass
    try:  # an existing queue on a read-only file system: flock needs no write access
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return -1


class QueuedWriterConnection(sqlite3.Connection):
    """A pysqlite connection that can wait in its database's writer queue."""

    def __init__(self, *args: Any, database: str, autocheckpoint: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue_fd = _open_queue(writer_queue_path(database))
        self._waiting_fd = _open_queue(waiting_writers_path(database))
        self._queued_by: int | None = None
        self._database = database
        # ``total_changes`` when the current transaction began: what its commit wrote.
        self._changes_before = 0
        # The connection sets its own sync settings, so that what it tracks as in
        # force (the *_now fields) is what SQLite holds.
        self._autocheckpoint = autocheckpoint
        self.execute(f"PRAGMA synchronous={_SYNCHRONOUS}")
        self.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
        self._synchronous_now, self._autocheckpoint_now = _SYNCHRONOUS, autocheckpoint

    @classmethod
    def factory(cls, database: str, autocheckpoint: int) -> Callable[..., QueuedWriterConnection]:
        """What ``sqlite3.connect(factory=…)`` calls: connections to ``database`` (its file
        name) queueing beside it, that checkpoint the WAL every ``autocheckpoint`` pages."""

        def connect(*args: Any, **kwargs: Any) -> QueuedWriterConnection:
            return cls(*args, database=database, autocheckpoint=autocheckpoint, **kwargs)

        return connect

    def sync_for_next_transaction(self, commit: str) -> None:
        """Set how the next transaction commits (a ``CommitMode``); called before every ``BEGIN``.

        ``unsynced``: at ``synchronous=NORMAL``; ``synced``: at ``FULL``, with no
        automatic checkpoint on its commit; ``default``: at ``FULL``, with the
        connection's checkpoint interval (see ``write_transaction``). Set before
        each transaction rather than restored after one, so that a failed commit
        can never leave a connection syncing less than it should; both settings
        can only change outside a transaction.
        """
        self._changes_before = self.total_changes
        synchronous = "NORMAL" if commit == "unsynced" else _SYNCHRONOUS
        autocheckpoint = 0 if commit == "synced" else self._autocheckpoint
        if synchronous != self._synchronous_now:
            self.execute(f"PRAGMA synchronous={synchronous}")
            self._synchronous_now = synchronous
        if autocheckpoint != self._autocheckpoint_now:
            self.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
            self._autocheckpoint_now = autocheckpoint

    def queue_for_write(self) -> None:
        """Wait for the writers ahead (see the module docstring for when it only tries)."""
        if self._queued_by is not None or self._queue_fd < 0:
            return
        thread = threading.get_ident()
        with _depth_lock:
            holding = _depth.get(thread, 0)
        if holding:
            try:
                fcntl.flock(self._queue_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
        else:
            self._wait_in_queue()
        self._queued_by = thread
        with _depth_lock:
            _depth[thread] = holding + 1

    def _wait_in_queue(self) -> None:
        """Take the queue, seen as waiting (``-waiting`` held shared) while it is taken."""
        try:
            fcntl.flock(self._queue_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return  # free: nobody to tell
        except BlockingIOError:
            pass
        if self._waiting_fd >= 0:
            # Blocks only for the instant a long writer's try holds it exclusively.
            fcntl.flock(self._waiting_fd, fcntl.LOCK_SH)
        try:
            fcntl.flock(self._queue_fd, fcntl.LOCK_EX)  # releases the GIL while it waits
        finally:
            if self._waiting_fd >= 0:
                fcntl.flock(self._waiting_fd, fcntl.LOCK_UN)

    def writers_waiting(self) -> bool:
        """Whether a servinfo writer is blocked in this database's queue (see the module
        docstring); False when that cannot be known."""
        if self._waiting_fd < 0:
            return False
        try:
            fcntl.flock(self._waiting_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self._waiting_fd, fcntl.LOCK_UN)
        return False

    def leave_write_queue(self) -> None:
        thread = self._queued_by
        if thread is None:
            return
        self._queued_by = None
        with _depth_lock:
            left = _depth.pop(thread, 1) - 1
            if left:
                _depth[thread] = left
        fcntl.flock(self._queue_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        writing = self._queued_by is not None
        try:
            super().commit()
        finally:
            self.leave_write_queue()
        # A commit that checkpoints nothing itself ("synced") is followed by the caller's own.
        if writing and self._autocheckpoint_now:
            wal_checkpointer.note_commit(self._database, self.total_changes - self._changes_before)

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_write_queue()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave_write_queue()
            for fd in (self._queue_fd, self._waiting_fd):
                if fd >= 0:
                    os.close(fd)
            self._queue_fd = self._waiting_fd = -1
