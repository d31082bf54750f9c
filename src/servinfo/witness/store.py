"""The witness's own state: the logs it follows and the last checkpoint it cosigned for each.

A witness is only as good as its memory. ``c2sp.org/tlog-witness`` asks it to
keep, per log origin, the latest checkpoint it cosigned, to persist it before
answering, and to check-and-update atomically: otherwise two requests checked
against the same size can both be cosigned and the second write rolls the
stored tree back (the race the spec spells out). So the state lives in one
SQLite file inside the witness directory, apart from any servinfo deployment
(an operator who controls a deployment's databases must not control its
witness's), and :meth:`WitnessStore.advance` is a compare-and-swap: in one
``BEGIN IMMEDIATE`` transaction it re-reads the stored size and root, refuses
with :class:`~servinfo.witness.errors.SizeConflict` unless they are the ones
the caller verified against, and writes the new checkpoint. Of two concurrent
calls from the same size exactly one advances.

The file is small and private to one process tree, so it is reached with the
standard library's ``sqlite3`` rather than the deployment's SQLAlchemy engine:
the witness needs no migrations framework for two tables, and the compare-and-
swap is plainer as the SQL it is. ``PRAGMA user_version`` records the schema's
version; a file of another version is refused rather than guessed at. WAL
with ``synchronous=FULL`` makes each commit durable before the cosignature
leaves the process.

A checkpoint the log signed but the witness refused as inconsistent (a second
root at a size it cosigned, a proof that fails) may be evidence that the log
forked. :meth:`WitnessStore.keep_evidence` keeps it with the checkpoint the
witness had cosigned then, both signed by the log, so that the pair stands on
its own as a proof; the first :data:`MAX_EVIDENCE` per log are kept (the first
refusals are the ones that matter, and a log cannot fill the disk).

Every operation opens its own connection, so one store is safe to share
between the server's threads. A write that cannot take SQLite's lock within
``busy_timeout`` seconds fails with :class:`~servinfo.witness.errors.WitnessBusy`
(503), never with a half-done update.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from servinfo.witness.errors import SizeConflict, UnknownLog, WitnessBusy, WitnessSetupInvalid

__all__ = [
    "MAX_EVIDENCE",
    "MAX_TREE_SIZE",
    "SCHEMA_VERSION",
    "Evidence",
    "LogState",
    "TrustedLog",
    "WitnessStore",
]

#: The version of the schema below, kept in ``PRAGMA user_version``.
SCHEMA_VERSION = 1
#: The largest tree size SQLite's signed 64-bit integers hold; larger trees are refused.
MAX_TREE_SIZE = 2**63 - 1
#: The refused checkpoints kept per log (the first ones).
MAX_EVIDENCE = 100
#: How long a writer waits for another's transaction before giving up, in seconds.
_BUSY_TIMEOUT = 30.0

_SCHEMA = """
CREATE TABLE logs (
    origin TEXT PRIMARY KEY,
    -- The size of the checkpoint last cosigned: 0 until the first.
    size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
    -- Its root hash and the whole note stored (log signatures and ours); NULL until the first.
    root BLOB CHECK (root IS NULL OR length(root) = 32),
    note BLOB,
    -- When it was cosigned, in POSIX seconds.
    cosigned_at INTEGER
) STRICT;
CREATE TABLE log_keys (
    origin TEXT NOT NULL REFERENCES logs (origin),
    vkey TEXT NOT NULL,
    PRIMARY KEY (origin, vkey)
) STRICT;
-- Checkpoints signed by the log and refused as inconsistent, with what was cosigned then.
CREATE TABLE evidence (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL REFERENCES logs (origin),
    received_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    note BLOB NOT NULL,
    cosigned_note BLOB
) STRICT;
CREATE INDEX evidence_by_origin ON evidence (origin, id);
"""


@dataclass(frozen=True)
class LogState:
    """The last checkpoint cosigned for one log, or size 0 and no root if none was."""

    origin: str
    size: int
    #: The root hash cosigned at ``size``; ``None`` before the first cosignature.
    root: bytes | None
    #: The cosigned checkpoint as a signed note (the log's signatures and the witness's).
    note: bytes | None
    cosigned_at: int | None

    @property
    def cosigned(self) -> bool:
        """Whether the witness has cosigned any checkpoint of this log."""
        return self.root is not None


@dataclass(frozen=True)
class TrustedLog:
    """A log the witness follows: the verifier keys it accepts and its state."""

    origin: str
    #: The log's verifier keys (signed-note vkeys), any of which may sign its checkpoints.
    vkeys: tuple[str, ...]
    state: LogState


@dataclass(frozen=True)
class Evidence:
    """A checkpoint signed by the log that the witness refused, and the one it had cosigned."""

    origin: str
    #: When it was received, in POSIX seconds.
    received_at: int
    reason: str
    #: The refused checkpoint as the log sent it (a signed note).
    note: bytes
    #: The checkpoint cosigned at the time, with the log's and the witness's signatures.
    cosigned_note: bytes | None


class WitnessStore:
    """The state database of one witness (see the module docstring)."""

    def __init__(self, path: Path, *, busy_timeout: float = _BUSY_TIMEOUT) -> None:
        """Open the state at ``path``; :class:`WitnessSetupInvalid` if it is missing or foreign."""
        self.path = path
        self._busy_timeout = busy_timeout
        if not path.is_file():
            raise WitnessSetupInvalid(
                f"no witness state at {path.name} in {path.parent}: run 'servinfo witness init'"
            )
        with closing(self._connect()) as connection:
            version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise WitnessSetupInvalid(
                f"witness state {path.name} has schema version {version}, expected {SCHEMA_VERSION}"
            )

    @classmethod
    def create(cls, path: Path) -> WitnessStore:
        """Create an empty state file (mode 0600); :class:`WitnessSetupInvalid` if one exists."""
        try:
            path.touch(mode=0o600, exist_ok=False)
        except FileExistsError:
            raise WitnessSetupInvalid(f"witness state {path} exists already") from None
        with closing(sqlite3.connect(path, isolation_level=None)) as connection:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(
                f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )
        return cls(path)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are the explicit BEGIN IMMEDIATE below,
        # never the module's implicit ones.
        connection = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA synchronous = FULL")
        return connection

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding SQLite's write lock from its first statement."""
        with closing(self._connect()) as connection:
            # IMMEDIATE takes the write lock before the reads, so what is read
            # cannot change before the write that depends on it.
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if "locked" in str(error) or "busy" in str(error):
                    raise WitnessBusy(
                        f"the witness state stayed locked for {self._busy_timeout:g} s; retry"
                    ) from None
                raise
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def add_log(self, origin: str, vkeys: Sequence[str]) -> TrustedLog:
        """Follow ``origin`` with these verifier keys, or add them to a log already followed.

        A log's state is never touched here: adding a key (a rotation) keeps
        the checkpoint last cosigned, so the new key cannot restart the log.
        """
        if not origin or not vkeys:
            raise ValueError("a log needs an origin and at least one key")
        with self._write() as connection:
            connection.execute("INSERT OR IGNORE INTO logs (origin) VALUES (?)", (origin,))
            connection.executemany(
                "INSERT OR IGNORE INTO log_keys (origin, vkey) VALUES (?, ?)",
                [(origin, vkey) for vkey in vkeys],
            )
        found = self.log(origin)
        assert found is not None  # inserted above, and logs are never deleted
        return found

    def log(self, origin: str) -> TrustedLog | None:
        """The log of this origin with its keys and state, or ``None`` if it is not followed."""
        with closing(self._connect()) as connection:
            row = connection.execute(
                "SELECT origin, size, root, note, cosigned_at FROM logs WHERE origin = ?",
                (origin,),
            ).fetchone()
            if row is None:
                return None
            vkeys = connection.execute(
                "SELECT vkey FROM log_keys WHERE origin = ? ORDER BY vkey", (origin,)
            ).fetchall()
        return TrustedLog(origin, tuple(v for (v,) in vkeys), LogState(*row))

    def logs(self) -> list[TrustedLog]:
        """Every log followed, by origin."""
        with closing(self._connect()) as connection:
            origins = connection.execute("SELECT origin FROM logs ORDER BY origin").fetchall()
        found = [self.log(origin) for (origin,) in origins]
        return [log for log in found if log is not None]

    def advance(
        self,
        origin: str,
        *,
        expected_size: int,
        expected_root: bytes | None,
        size: int,
        root: bytes,
        note: bytes,
        cosigned_at: int,
    ) -> LogState:
        """Record a cosigned checkpoint if the stored one is still ``expected_*``; else refuse.

        The caller verified the new checkpoint against the state it read
        (``expected_size``, ``expected_root``); this re-reads that state under
        the write lock and writes only if it is unchanged, so a concurrent
        advance makes this one fail with :class:`SizeConflict` naming the size
        now stored. A smaller size than the stored one is refused the same way
        whatever the caller expected: the state never goes back.
        """
        if not 0 <= size <= MAX_TREE_SIZE:
            raise ValueError(f"tree size {size} is outside 0..{MAX_TREE_SIZE}")
        with self._write() as connection:
            row = connection.execute(
                "SELECT size, root FROM logs WHERE origin = ?", (origin,)
            ).fetchone()
            if row is None:
                raise UnknownLog(f"this witness follows no log {origin!r}")
            stored_size, stored_root = row
            if (stored_size, stored_root) != (expected_size, expected_root) or size < stored_size:
                raise SizeConflict(origin, expected_size, stored_size)
            connection.execute(
                "UPDATE logs SET size = ?, root = ?, note = ?, cosigned_at = ? WHERE origin = ?",
                (size, root, note, cosigned_at, origin),
            )
        return LogState(origin, size, root, note, cosigned_at)

    def keep_evidence(
        self,
        origin: str,
        *,
        received_at: int,
        reason: str,
        note: bytes,
        cosigned_note: bytes | None,
    ) -> bool:
        """Keep a refused checkpoint of ``origin``; ``False`` once :data:`MAX_EVIDENCE` are kept."""
        with self._write() as connection:
            kept = connection.execute(
                "INSERT INTO evidence (origin, received_at, reason, note, cosigned_note) "
                "SELECT ?, ?, ?, ?, ? "
                "WHERE (SELECT count(*) FROM evidence WHERE origin = ?) < ?",
                (origin, received_at, reason, note, cosigned_note, origin, MAX_EVIDENCE),
            ).rowcount
        return kept == 1

    def evidence(self, origin: str | None = None) -> list[Evidence]:
        """The refused checkpoints kept, of one log or of all, in the order received."""
        query = "SELECT origin, received_at, reason, note, cosigned_note FROM evidence"
        arguments: tuple[str, ...] = ()
        if origin is not None:
            query, arguments = query + " WHERE origin = ?", (origin,)
        with closing(self._connect()) as connection:
            rows = connection.execute(query + " ORDER BY id", arguments).fetchall()
        return [Evidence(*row) for row in rows]
