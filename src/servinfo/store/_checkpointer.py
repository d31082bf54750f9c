"""WAL checkpoints of busy SQLite databases, run beside the writers (private).

In WAL mode every commit appends pages to ``<database>-wal``; a checkpoint
copies them back into the database file and syncs it. SQLite runs it in the
committing connection once the WAL holds ``wal_autocheckpoint`` pages (the
store sets 16,384: every ~64 MiB), so every so often one writer's commit also
copies and syncs 64 MiB while the writers queued behind it wait.

A writer that commits many rows therefore hands the database to this module's
one thread, which runs ``PRAGMA wal_checkpoint(PASSIVE)`` on a connection of
its own: the copy and the sync run on another core while the writers go on
(a passive checkpoint takes no lock a writer or reader waits for, and stops
at whatever a reader still needs). When it has copied everything, the next
writer starts the WAL over from its beginning. The writers' own automatic
checkpoint stays as it was, the bound on the WAL when this thread lags behind.

SQLite's documentation of WAL mode names this arrangement: checkpoints run "in a
separate thread or process" (https://www.sqlite.org/wal.html, "Automatic Checkpoint").

Only bulk writers reach this thread (:data:`ROWS_PER_CHECKPOINT` rows changed
since its last checkpoint of the database): an API request's few rows never
wake it. Its connection opens the database read-write without creating it
(``mode=rw``), so a database removed meanwhile stays removed. A failed
checkpoint is logged and left to the writers' automatic one: nothing is lost,
the copy is only made later.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import urllib.parse
from collections import Counter

__all__ = ["ROWS_PER_CHECKPOINT", "WalCheckpointer", "wal_checkpointer"]

_logger = logging.getLogger(__name__)

#: Rows changed in a database since this thread's last checkpoint of it that make the
#: next one due: about 1,000 pages of audit entries or records, the size of WAL whose
#: checkpoint is worth a sync.
ROWS_PER_CHECKPOINT = 4_096


class WalCheckpointer:
    """One thread checkpointing the SQLite databases bulk writers have just committed to."""

    def __init__(self, rows_per_checkpoint: int = ROWS_PER_CHECKPOINT) -> None:
        self._rows_per_checkpoint = rows_per_checkpoint
        #: Rows committed per database file since its last checkpoint here.
        self._rows: dict[str, int] = {}
        #: Checkpoints run and failed, per database file.
        self.completed: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.start_afresh()

    def start_afresh(self) -> None:
        """No thread and nothing due: at construction, and in a child after ``fork``, which
        has no thread and may have copied the lock held."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._due: list[str] = []
        self._thread: threading.Thread | None = None

    def note_commit(self, database: str, rows: int) -> None:
        """``rows`` rows of ``database`` (a file name) were just committed."""
        if rows <= 0:
            return
        with self._lock:
            total = self._rows.get(database, 0) + rows
            if total < self._rows_per_checkpoint or database in self._due:
                self._rows[database] = total
                return
            self._rows[database] = 0
            self._due.append(database)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="servinfo-wal-checkpoint", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._due:
                    self._wake.wait()
                database = self._due[0]
            try:
                self.checkpoint(database)
            except Exception:  # never let one database's surprise stop the others' checkpoints
                _logger.exception("background WAL checkpoint failed")
            finally:
                with self._lock:
                    self._due.remove(database)

    def checkpoint(self, database: str) -> bool:
        """Run a passive checkpoint of ``database`` now; False when it could not run."""
        uri = f"file:{urllib.parse.quote(database)}?mode=rw"
        try:
            connection = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as error:  # removed, or not a file this process may write
            self._failed(database, error)
            return False
        try:
            # The copy is synced as the writers' commits are (the store's synchronous=FULL).
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as error:
            self._failed(database, error)
            return False
        finally:
            connection.close()
        self.completed[database] += 1
        return True

    def _failed(self, database: str, error: sqlite3.Error) -> None:
        self.failed[database] += 1
        # The error names the condition (e.g. "unable to open database file"), never a path.
        _logger.warning("background WAL checkpoint skipped: %s", error)


#: The process's checkpointer, which the store's writer connections report to.
wal_checkpointer = WalCheckpointer()
os.register_at_fork(after_in_child=wal_checkpointer.start_afresh)
