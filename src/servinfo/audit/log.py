"""The persistent audit log: appends, signed tree heads, proofs and verification in a database.

:class:`AuditLog` is the :class:`~servinfo.audit.sink.AuditSink` the other
packages write to. It keeps the log in the control database (tables in
:mod:`servinfo.audit.models`) and builds on the pure core of this package.

Appending a batch is one transaction, whichever process runs it:

(1) lock the sequencing row ``audit_state`` (``SELECT … FOR UPDATE`` on
    PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` holds the write lock already) and
    read the next seq and the frontier;
(2) read, or create, the salts of the batch's subjects and pseudonymize them;
(3) join each entry's canonical bytes (:mod:`servinfo.audit._template`), hash
    them, extend the frontier: never the whole tree, at most log2(n) node
    hashes per entry;
(4) insert the rows in bulk and store the new seq and frontier;
(5) sign a tree head if one is due (:func:`head_due`); commit.

So appends from many processes interleave as whole batches, with contiguous
seqs, and a crash leaves either the whole batch or none of it. One tree head
at the end of a batch covers it: the batch is atomic, so intermediate heads
would vouch for nothing more. Heads come due on appends; a quiet log with
unsigned entries gets its head from :meth:`AuditLog.issue_head_if_due`
(a periodic task) or from the next append, proof or verification.

Subjects are named by ``Pseudonymizer(pseudonym key).pseudonym(subject_id,
salt)`` with a random 32-byte salt per subject. :meth:`AuditLog.forget_subject`
deletes the salt: earlier entries keep their pseudonym, so the tree still
verifies, but nothing can link it to the subject any more, and later entries
get a new salt and so a new pseudonym.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing
from typing import Protocol, runtime_checkable

from sqlalchemy import Connection, Engine

from servinfo.audit import _storage
from servinfo.audit._template import NO_SUBJECT_TAIL, Template, build, pseudonym_tail, template
from servinfo.audit.entries import AuditEntry, DetailValue
from servinfo.audit.errors import (
    EntryNotFound,
    HeadInvalid,
    HeadNotFound,
    LogTampered,
    RangeInvalid,
)
from servinfo.audit.heads import TreeHead, head_due, sign_tree_head
from servinfo.audit.merkle import CompactRange
from servinfo.audit.proofs import (
    ConsistencyBundle,
    InclusionBundle,
    build_consistency_bundle,
    build_inclusion_bundle,
)
from servinfo.audit.sink import AuditSink, RecordedEvent
from servinfo.audit.verify import VerifyReport, verify_chunks
from servinfo.crypto import AUDIT_SIGNING, PSEUDONYM, Keyring, Pseudonymizer
from servinfo.store.engines import write_transaction

__all__ = ["AuditLog"]

_SALT_SIZE = 32


@runtime_checkable
class TransactionalAuditSink(AuditSink, Protocol):
    """A sink that can commit other rows of the control database with its entries."""

    def record_many(
        self,
        events: Iterable[RecordedEvent],
        *,
        also: Callable[[Connection], None] | None = None,
    ) -> range:
        """Append ``events`` (and run ``also`` in the same transaction) in one commit."""
        ...


class AuditLog:
    """The audit log of one deployment, in its control database."""

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        *,
        head_every_entries: int = 1000,
        head_every_seconds: float = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if head_every_entries < 1 or head_every_seconds < 0:
            raise ValueError("heads are due every >= 1 entries and >= 0 seconds")
        self._engine = engine
        self._keyring = keyring
        self._every_entries = head_every_entries
        self._every_ms = int(head_every_seconds * 1000)
        self._clock = clock

    def __repr__(self) -> str:
        return f"AuditLog(engine={self._engine.url.render_as_string()!r})"

    @property
    def engine(self) -> Engine:
        return self._engine

    # -- appending ----------------------------------------------------------

    def record(
        self,
        action: str,
        *,
        actor: str,
        subject_id: str | None = None,
        purpose: str | None = None,
        outcome: str | None = None,
        reasons: Sequence[str] = (),
        record_ids: Sequence[str] = (),
        details: Mapping[str, DetailValue] | None = None,
    ) -> int:
        """Append one entry in its own transaction; its seq, once committed."""
        entry = build(
            action, actor, subject_id, purpose, outcome, reasons, record_ids, details, None
        )
        return self._append([entry])

    def record_many(
        self,
        events: Iterable[RecordedEvent],
        *,
        also: Callable[[Connection], None] | None = None,
    ) -> range:
        """Append ``events`` in one transaction, all or none; their seqs, contiguous.

        The batch is built in memory: callers with an unbounded stream cut it
        into batches (a thousand entries amortize a commit well). ``also``
        writes more rows of the control database in the same transaction, so
        that they and the entries become durable in one commit (an ingest
        request's idempotency answer with the entry of its write).
        """
        templates = [template(event) for event in events]
        if not templates:
            return range(0)
        first = self._append(templates, also)
        return range(first, first + len(templates))

    def _append(
        self, templates: Sequence[Template], also: Callable[[Connection], None] | None = None
    ) -> int:
        sha256 = hashlib.sha256
        subjects = {subject for _, _, subject in templates if subject is not None}
        with write_transaction(self._engine) as connection:
            # (1) Sequence.
            first, frontier = _storage.lock_state(connection)
            now = self._now_ms()
            # (2) Pseudonymize.
            tails = self._tails(connection, subjects) if subjects else {}
            # (3) Bytes, hashes, frontier: one comprehension each, the hot loop.
            at, none = b"%d" % now, NO_SUBJECT_TAIL
            datas = [
                b"".join(
                    (head, at, middle, b"%d" % seq, none if subject is None else tails[subject])
                )
                for seq, (head, middle, subject) in enumerate(templates, first)
            ]
            leaves = [sha256(b"\x00" + data).digest() for data in datas]
            frontier.extend(leaves)
            # (4) Store.
            _storage.insert_entries(connection, first, leaves, datas, now)
            _storage.save_state(connection, frontier.size, frontier.to_bytes())
            # (5) Sign when due.
            last = _storage.latest_head(connection)
            if head_due(
                last,
                frontier.size,
                now,
                every_entries=self._every_entries,
                every_ms=self._every_ms,
            ):
                self._sign(connection, frontier, now)
            if also is not None:
                also(connection)
        return first

    def _tails(self, connection: Connection, subjects: set[str]) -> dict[str, bytes]:
        """Each subject's entry tail, with its pseudonym; new subjects get a fresh salt."""
        salts = _storage.salts(connection, subjects)
        new = {s: os.urandom(_SALT_SIZE) for s in subjects if s not in salts}
        _storage.insert_salts(connection, new)
        salts.update(new)
        pseudonymizer = Pseudonymizer(self._keyring.current(PSEUDONYM))
        return {s: pseudonym_tail(pseudonymizer.pseudonym(s, salts[s])) for s in subjects}

    def forget_subject(self, subject_id: str) -> bool:
        """Destroy ``subject_id``'s salt; True if it had one.

        Its entries stay (the log still verifies) but can no longer be linked
        to it. On SQLite ``secure_delete`` zeroes the freed cell; the caller
        checkpoints the WAL (:func:`servinfo.store.engines.checkpoint`) so no
        old page keeps the salt.
        """
        with write_transaction(self._engine) as connection:
            _storage.lock_state(connection)  # appends after this one see the salt gone
            return _storage.delete_salt(connection, subject_id)

    # -- tree heads ---------------------------------------------------------

    def latest_head(self) -> TreeHead | None:
        """The newest signed tree head, or None before the first."""
        with self._engine.connect() as connection:
            return _storage.latest_head(connection)

    def issue_head(self) -> TreeHead:
        """Sign a head for the log as it is now (the latest head, if it already covers it)."""
        with write_transaction(self._engine) as connection:
            size, frontier = _storage.lock_state(connection)
            last = _storage.latest_head(connection)
            if last is not None and last.tree_size == size:
                return last
            return self._sign(connection, frontier, self._now_ms())

    def issue_head_if_due(self) -> TreeHead | None:
        """Sign a head if one is due by count or time; for a periodic task on a quiet log."""
        with write_transaction(self._engine) as connection:
            _, frontier = _storage.lock_state(connection)
            now = self._now_ms()
            last = _storage.latest_head(connection)
            if not head_due(
                last, frontier.size, now, every_entries=self._every_entries, every_ms=self._every_ms
            ):
                return None
            return self._sign(connection, frontier, now)

    def _sign(self, connection: Connection, frontier: CompactRange, now: int) -> TreeHead:
        head = sign_tree_head(
            self._keyring.signing_key(), self.signing_key_id, frontier.size, frontier.root(), now
        )
        _storage.insert_head(connection, head, frontier.to_bytes())
        return head

    @property
    def signing_key_id(self) -> str:
        """The key id new heads are signed with (``audit_signing:v<n>``)."""
        return self._keyring.current(AUDIT_SIGNING).key_id

    def public_keys(self) -> dict[str, bytes]:
        """Each ``audit_signing`` version's raw public key: heads from before a rotation verify."""
        return {
            key.key_id: self._keyring.verify_key_bytes(key.version)
            for key in self._keyring.versions(AUDIT_SIGNING)
        }

    # -- reading ------------------------------------------------------------

    def size(self) -> int:
        """How many entries the log holds."""
        with self._engine.connect() as connection:
            return _storage.read_state(connection)[0]

    def entries(self, start: int, end: int) -> list[AuditEntry]:
        """Entries ``start <= seq < end``, decoded (for display; verification never decodes)."""
        if not 0 <= start <= end:
            raise RangeInvalid(f"entry range {start}..{end} is not 0 <= start <= end")
        with self._engine.connect() as connection:
            rows = _storage.entry_bytes(connection, start, end)
        return [AuditEntry.from_canonical(data) for _, data in rows]

    def tail(self, count: int = 20) -> list[AuditEntry]:
        """The last ``count`` entries, oldest first."""
        if count < 0:
            raise RangeInvalid(f"cannot show {count} entries; expected a count >= 0")
        with self._engine.connect() as connection:
            rows = _storage.last_entries(connection, count)
        return [AuditEntry.from_canonical(data) for _, data in rows]

    # -- proofs -------------------------------------------------------------

    def inclusion_bundle(self, index: int) -> InclusionBundle:
        """Prove entry ``index`` against the latest head (signing one first if it is newer)."""
        head = self.latest_head()
        if head is None or not 0 <= index < head.tree_size:
            if index >= 0:
                head = self.issue_head()
            if head is None or not 0 <= index < head.tree_size:
                size = 0 if head is None else head.tree_size
                raise EntryNotFound(f"entry {index} does not exist: the log has {size} entries")
        with self._snapshot() as connection:
            hashes = _storage.leaf_hashes(connection, head.tree_size)
            stored = _storage.entry_bytes(connection, index, index + 1)
        return build_inclusion_bundle(hashes, index, head, stored[0][1] if stored else None)

    def consistency_bundle(self, from_size: int, to_size: int | None = None) -> ConsistencyBundle:
        """Prove the head of ``from_size`` is a prefix of the head of ``to_size`` (default latest).

        Both sizes must be sizes of signed heads: an auditor compares a head it
        kept with one it is shown.
        """
        if to_size is not None and from_size > to_size:
            raise RangeInvalid(f"from {from_size} is larger than to {to_size}")
        with self._snapshot() as connection:
            new = (
                _storage.latest_head(connection)
                if to_size is None
                else _storage.head_of_size(connection, to_size)
            )
            if new is None:
                raise HeadNotFound(f"no signed tree head of size {to_size}")
            old = _storage.head_of_size(connection, from_size)
            if old is None:
                raise HeadNotFound(f"no signed tree head of size {from_size}")
            if old.tree_size > new.tree_size:
                raise RangeInvalid(
                    f"from {from_size} is larger than the latest head {new.tree_size}"
                )
            hashes = _storage.leaf_hashes(connection, new.tree_size)
        return build_consistency_bundle(hashes, old, new)

    # -- verification -------------------------------------------------------

    def verify(self, *, chunk: int = _storage.CHUNK) -> VerifyReport:
        """Rehash every stored entry and check every head; raise at the first problem.

        :class:`HeadInvalid` for a head that is not the audit key's or goes
        backwards, :class:`LogTampered` naming the first bad entry. One
        snapshot of the database, streamed in chunks of ``chunk`` rows; the
        stored bytes are hashed as stored. Beyond :func:`verify_chunks`, the
        stored frontiers must fold to their heads' roots and the sequencing
        state must match the entries, which also catches entries removed
        from an unsigned tail.
        """
        with self._snapshot() as connection:
            next_seq, state = _storage.read_state(connection)
            stored = _storage.heads(connection)
            # Closed here, not when collected: a bad entry stops the pass early,
            # and the driver cursor must close before the connection does.
            with closing(_storage.stream_chunks(connection, chunk=chunk)) as chunks:
                report = verify_chunks(chunks, [head for head, _ in stored], self.public_keys())
        for head, frontier in stored:
            _check_frontier(head, frontier)
        _check_state(report, next_seq, state)
        return report

    # -- helpers ------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(self._engine)


class _Snapshot:
    """A read transaction that sees one state of the database throughout.

    SQLite: a deferred ``BEGIN`` reads one WAL snapshot. PostgreSQL: REPEATABLE
    READ, because READ COMMITTED would show each statement a newer log.
    """

    __slots__ = ("_connection", "_engine")

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __enter__(self) -> Connection:
        connection = self._engine.connect()
        if connection.dialect.name != "sqlite":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        self._connection = connection
        connection.begin()
        return connection

    def __exit__(self, *exc: object) -> None:
        try:
            self._connection.rollback()  # read-only: nothing to keep
        finally:
            self._connection.close()


def _check_frontier(head: TreeHead, stored: bytes) -> None:
    try:
        frontier = CompactRange.from_bytes(stored)
    except ValueError:
        frontier = None
    if frontier is None or frontier.size != head.tree_size or frontier.root() != head.root_hash:
        raise HeadInvalid(
            f"tree head {head.tree_size}: its stored frontier does not fold to its signed root",
            tree_size=head.tree_size,
        )


def _check_state(report: VerifyReport, next_seq: int, state: CompactRange) -> None:
    """The sequencer's state must continue exactly the stored log."""
    count = report.entries
    if next_seq > count:
        raise LogTampered(
            count,
            f"the log ends after {count} entries but {next_seq} were appended: "
            f"entries {count}..{next_seq - 1} were removed",
        )
    if next_seq < count:
        raise LogTampered(
            next_seq, f"entries {next_seq}..{count - 1} are stored but were never appended"
        )
    if state.size != count or state.root() != report.root:
        raise LogTampered(
            report.signed_entries,
            "the sequencer's frontier does not match the stored entries after the latest head",
        )
