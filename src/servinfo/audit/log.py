"""The persistent audit log: appends, checkpoints, proofs and verification in a database.

:class:`AuditLog` is the :class:`~servinfo.audit.sink.AuditSink` the other
packages write to. It keeps the log in the control database (tables in
:mod:`servinfo.audit.models`) and builds on the pure core of this package.

Appending a batch is one transaction, whichever process runs it:

(1) lock the sequencing row ``audit_state`` (``SELECT … FOR UPDATE`` on
    PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` holds the write lock already) and
    read the next seq and the frontier;
(2) read the count of erasures, and the salts of the batch's subjects that
    this process has not seen committed under that count (or create them):
    their pseudonyms and reference keys (:class:`~servinfo.audit.history.SubjectKeys`);
(3) join each entry's canonical bytes (:mod:`servinfo.audit._template`; an
    entry about a subject gets its references there), hash them, extend the
    frontier: never the whole tree, at most log2(n) node hashes per entry;
(4) insert the rows in bulk, index the entries about subjects
    (``audit_subject_entries``), and store the new seq, the frontier and their
    MAC (a key from the keyring: a database writer without it cannot extend or
    rewrite the tail unnoticed); commit.

So appends from many processes interleave as whole batches, with contiguous
seqs, and a crash leaves either the whole batch or none of it.

Checkpoints (C2SP signed notes, :mod:`servinfo.audit.checkpoint`) are signed
after the commit, by :class:`~servinfo.audit.signer.CheckpointSigner`, which
signs only a tree that extends the last checkpoint it signed (its state lives
beside the key material, not in this database); the process hands it the leaf
hashes it appended, or the tree its appends already extended
(:mod:`servinfo.audit._recent`). One is due every
``checkpoint_every_entries`` entries or ``checkpoint_every_seconds``; a
command signs one before it exits (:meth:`AuditLog.checkpoint`), and the
server signs the quiet log's tail on a timer. A refusal never fails the
append that came first (its entries are committed): it is logged and counted
(``servinfo_audit_checkpoint_refusals_total``), and ``servinfo audit verify``
names it.

Subjects are named by ``Pseudonymizer(pseudonym key).pseudonym(subject_id,
salt)`` with a random 32-byte salt per subject, and the identifiers in their
entries by references under ``reference_key(subject_id, salt)`` (format 2,
:mod:`servinfo.audit.entries`). :meth:`AuditLog.forget_subject` deletes the
salt and the subject's index rows, and counts the erasure: earlier entries keep their pseudonym and
references, so the tree still verifies, but nothing can link them to the
subject any more, and later entries get a new salt and so a new pseudonym.
:meth:`AuditLog.subject_history` gives a subject's entries and reference key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from servinfo.audit import _storage
from servinfo.audit._checks import (
    check_frontier,
    check_state,
    checkpoint_claims,
    stored_frontier,
    trusted_claim,
)
from servinfo.audit._inserts import CHUNK, ChunkInserts, InsertThread
from servinfo.audit._recent import RecentAppends
from servinfo.audit._template import (
    NO_SUBJECT_TAIL,
    Template,
    build,
    keyed_entry,
    template,
)
from servinfo.audit.entries import AuditEntry, DetailValue
from servinfo.audit.errors import (
    AuditError,
    EntryNotFound,
    HeadNotFound,
    LogTampered,
    RangeInvalid,
)
from servinfo.audit.history import (
    Derived,
    SubjectHistory,
    SubjectKeys,
    read_history,
    subject_pseudonyms,
)
from servinfo.audit.merkle import CompactRange, consistency_proof_from_frontier, inclusion_proof
from servinfo.audit.metrics import CHECKPOINT_REFUSALS
from servinfo.audit.note import Ed25519NoteSigner, Ed25519NoteVerifier, Note, NoteSignature
from servinfo.audit.signer import CheckpointSigner, SignerRefused, SignerState
from servinfo.audit.sink import AuditSink, RecordedEvent
from servinfo.audit.verify import SignedRoot, VerifyReport, check_legacy_heads, verify_chunks
from servinfo.crypto import AUDIT_SIGNING, Keyring
from servinfo.store.engines import write_transaction

__all__ = ["AuditLog", "ConsistencyProof", "KeyWindow", "TransactionalAuditSink"]

_SALT_SIZE = 32
_MAC_INFO = b"servinfo audit state mac v1"
#: Leaf hashes kept in memory for the signer at most (32 MB with the list).
_MAX_RECENT = 1_000_000
_logger = logging.getLogger("servinfo.audit")


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


def _entry_bytes(
    templates: Sequence[Template], first: int, at: bytes, keyed: Mapping[str, Derived]
) -> tuple[list[bytes], list[bytes], list[int]]:
    """The canonical bytes of entries ``first …`` made at ``at``, and the subjects' index
    rows ``(pseudonym, seq)`` of those about a subject: the append's hot loop."""
    none = NO_SUBJECT_TAIL
    datas: list[bytes] = []
    indexed: list[bytes] = []
    indexed_seqs: list[int] = []
    for seq, pieces in enumerate(templates, first):
        subject = pieces[2]
        if subject is None:
            datas.append(b"".join((pieces[0], at, pieces[1], b"%d" % seq, none)))
            continue
        pseudonym, references, tail = keyed[subject]
        datas.append(keyed_entry(pieces, references, at, b"%d" % seq, tail))
        indexed.append(pseudonym)
        indexed_seqs.append(seq)
    return datas, indexed, indexed_seqs


@dataclass(frozen=True)
class KeyWindow:
    """A version of the log's signing key and when it signs (seconds since the epoch)."""

    vkey: str
    key_id: str
    valid_from: int
    #: None for the current key.
    valid_until: int | None


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 proof that the checkpoint of ``old_size`` is a prefix of ``checkpoint``."""

    old_size: int
    proof: tuple[bytes, ...]
    #: The newer checkpoint's signed note, with the cosignatures stored for it.
    checkpoint: bytes


class AuditLog:
    """The audit log of one deployment, in its control database.

    ``signer_state_file`` is the checkpoint signer's memory (beside the key
    material, never in the control database); ``origin`` names the log in
    its checkpoints (``<domain>/servinfo/<deployment id>``). One key source
    signs a log: processes on other machines (``signs=False``) append and
    leave the signing to it.
    """

    def __init__(
        self,
        engine: Engine,
        keyring: Keyring,
        *,
        signer_state_file: Path,
        origin: str,
        checkpoint_every_entries: int = 100_000,
        checkpoint_every_seconds: float = 1.0,
        signs: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if checkpoint_every_entries < 1 or checkpoint_every_seconds < 0:
            raise ValueError("checkpoints are due every >= 1 entries and >= 0 seconds")
        self._engine = engine
        self._keyring = keyring
        self._every_entries = checkpoint_every_entries
        self._every_seconds = checkpoint_every_seconds
        self._clock = clock
        self._signs = signs
        self._signer = CheckpointSigner(
            signer_state_file, origin, self._note_signer, self.log_verifiers
        )
        # What this process last signed or saw signed: when the next checkpoint is due.
        self._signed_size: int | None = None
        self._signed_at = clock()
        # One past the last seq this process appended (0: none).
        self._appended_end = 0
        self._keyring_seen: int | None = None
        #: Set whenever this process signs a checkpoint (the server's witnessing waits on it).
        self.checkpoint_signed = threading.Event()
        # This process's latest run of appends (leaf hashes, frontiers): the signer takes
        # its tree from here rather than reading the leaves back and hashing them again.
        self._recent = RecentAppends(_MAX_RECENT)
        self._keys = SubjectKeys(keyring)
        self._insert_thread = InsertThread()

    def __repr__(self) -> str:
        return f"AuditLog(engine={self._engine.url.render_as_string()!r})"

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def origin(self) -> str:
        """The log's name: the first line of its checkpoints and its key name."""
        return self._signer.origin

    @property
    def signs(self) -> bool:
        """Whether this process signs checkpoints (``audit.sign_checkpoints``)."""
        return self._signs

    @property
    def appended(self) -> bool:
        """Whether this process appended entries that no checkpoint it knows of covers."""
        return self._appended_end > (self._signed_size or 0)

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
        linked: Mapping[str, str] | None = None,
        subject_actor: bool = False,
        policy_version: str | None = None,
    ) -> int:
        """Append one entry in its own transaction; its seq, once committed.

        ``linked``, ``subject_actor`` and ``policy_version``:
        :meth:`~servinfo.audit.sink.AuditSink.record`.
        """
        entry = build(
            action, actor, subject_id, purpose, outcome, reasons, record_ids, details,
            policy_version, linked, subject_actor,
        )  # fmt: skip
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
        subjects = {pieces[2] for pieces in templates if pieces[2] is not None}
        with write_transaction(self._engine) as connection:
            # (1) Sequence.
            first, frontier, mac = _storage.lock_state(connection)
            before = frontier.copy()
            # A state whose MAC fails must keep failing: a fresh MAC over it would launder
            # a tail rewritten without the key into a tree the signer then signs.
            try:
                self._check_state_mac(first, frontier, mac)
                forged = False
            except AuditError as error:
                _logger.error("audit append over a state that does not verify: %s", error.message)
                forged = True
            now = int(self._clock() * 1000)
            # (2) Pseudonymize.
            keyed, read = self._subjects(connection, subjects) if subjects else ({}, None)
            # (3) Bytes, hashes, frontier, a chunk at a time, while (4) the previous
            # chunk's rows are stored.
            at = b"%d" % now
            leaves: list[bytes] = []
            with ChunkInserts(connection, self._insert_thread, len(templates)) as inserts:
                for begin in range(0, len(templates), CHUNK):
                    chunk = templates[begin : begin + CHUNK]
                    datas, indexed, indexed_seqs = _entry_bytes(chunk, first + begin, at, keyed)
                    chunk_leaves = [sha256(b"\x00" + data).digest() for data in datas]
                    frontier.extend(chunk_leaves)
                    leaves += chunk_leaves
                    inserts.add(first + begin, chunk_leaves, datas, indexed, indexed_seqs)
            state = frontier.to_bytes()
            _storage.save_state(
                connection,
                frontier.size,
                state,
                mac if forged else self._state_mac(frontier.size, state),
            )
            if also is not None:
                also(connection)
        if read is not None:  # committed: the salts read or created exist from here on
            self._keys.committed(*read)
        self._appended_end = max(self._appended_end, frontier.size)
        if self._signs:
            self._recent.add(before, leaves, frontier)
        self._checkpoint_if_due(frontier.size)
        return first

    def _subjects(
        self, connection: Connection, subjects: set[str]
    ) -> tuple[dict[str, Derived], tuple[dict[str, bytes], int] | None]:
        """Each subject's pseudonym (16 bytes, for the index), references and entry tail,
        from its salt; new subjects get a fresh salt. Also the salts read or created here
        and the count of erasures, for :meth:`SubjectKeys.committed` once committed.

        The salts this process saw committed are used while the count of erasures,
        read here in every batch, has not changed (an erasure by another process counts
        from its commit on); the others are read.
        """
        erasures = _storage.erasures(connection)
        derived, unknown = self._keys.known(subjects, erasures)
        if not unknown:
            return derived, None
        salts = _storage.salts(connection, unknown)
        new = {s: os.urandom(_SALT_SIZE) for s in unknown if s not in salts}
        _storage.insert_salts(connection, new)
        salts.update(new)
        derived.update(self._keys.derive(salts))
        return derived, (salts, erasures)

    def forget_subject(self, subject_id: str) -> bool:
        """Destroy ``subject_id``'s salt, and its rows of the subjects' index; True if it had one.

        Its entries stay (the log still verifies) but can no longer be linked
        to it: their pseudonym and references were keyed with the salt. On
        SQLite ``secure_delete`` zeroes the freed cells; the caller checkpoints
        the WAL (:func:`servinfo.store.engines.checkpoint`) so no old page keeps
        the salt.
        """
        with write_transaction(self._engine) as connection:
            end = _storage.lock_state(connection)[0]  # appends after this see the salt gone
            salt = _storage.salts(connection, [subject_id]).get(subject_id)
            if salt is None:
                return False
            pseudonyms = subject_pseudonyms(self._keyring, subject_id, salt)
            _storage.delete_subject_entries(connection, pseudonyms, end)
            forgotten = _storage.delete_salt(connection, subject_id)
            # Every appending process reads the salts it kept again from this commit on.
            _storage.count_erasure(connection)
        self._keys.forget(subject_id, salt)
        return forgotten

    def subject_history(self, subject_id: str) -> SubjectHistory | None:
        """Every entry about ``subject_id`` under its current salt, with the key of their
        references; None when it has no salt (never audited, or forgotten).

        Found through the subjects' index, not a scan: one snapshot, one query.
        """
        with self._snapshot() as connection:
            return read_history(connection, self._keyring, subject_id)

    # -- the sequencing state's MAC --------------------------------------------

    def _state_mac(self, next_seq: int, frontier: bytes) -> bytes:
        return hmac.digest(self._mac_key(), b"%d\n" % next_seq + frontier, "sha256")

    def _mac_key(self) -> bytes:
        key = getattr(self, "_cached_mac_key", None)
        if key is None:
            # Derived from the first audit signing key, which every keyring keeps:
            # a rotation of the signing key must not orphan the state's MAC.
            seed = self._keyring.signing_key(1).private_bytes_raw()
            key = HKDF(hashes.SHA256(), 32, salt=None, info=_MAC_INFO).derive(seed)
            self._cached_mac_key = key
        return key

    def _check_state_mac(self, next_seq: int, frontier: CompactRange, mac: bytes | None) -> None:
        """The stored state is one an append of this deployment wrote (before any checkpoint,
        a state from before MACs existed is accepted)."""
        if mac is None and self._signer.state() is None:
            return
        expected = self._state_mac(next_seq, frontier.to_bytes())
        if mac is None or not hmac.compare_digest(mac, expected):
            raise LogTampered(
                min(next_seq, frontier.size),
                "the sequencing state's MAC does not verify: the state was written by "
                "something other than this deployment's appends",
            )

    # -- checkpoints ----------------------------------------------------------

    def _note_signer(self) -> Ed25519NoteSigner:
        self._follow_rotation()
        return Ed25519NoteSigner(self.origin, self._keyring.signing_key())

    def _follow_rotation(self) -> None:
        """Reload the keyring when its file changed: ``keys rotate --audit`` in another
        process must not leave this one signing with the retired key."""
        try:
            changed = self._keyring.path.stat().st_mtime_ns
        except OSError:
            return
        if changed != self._keyring_seen:
            if self._keyring_seen is not None:
                self._keyring.reload()
            self._keyring_seen = changed

    def log_verifiers(self) -> list[Ed25519NoteVerifier]:
        """A note verifier for every version of the log's signing key (named for the origin)."""
        self._follow_rotation()
        return [
            Ed25519NoteVerifier(self.origin, self._keyring.verify_key_bytes(key.version))
            for key in self._keyring.versions(AUDIT_SIGNING)
        ]

    def vkeys(self) -> list[str]:
        """The log's verifier keys (C2SP vkeys), oldest first; the last signs now."""
        return [window.vkey for window in self.key_windows()]

    def key_windows(self) -> list[KeyWindow]:
        """Each version of the log's signing key with the window it signs in, oldest first.

        A key signs from its creation until the next version's creation (the
        current key: open-ended); auditors judge a checkpoint's time by its
        witnesses' cosignatures, not by the operator's clock.
        """
        versions = self._keyring.versions(AUDIT_SIGNING)
        return [
            KeyWindow(
                Ed25519NoteVerifier(
                    self.origin, self._keyring.verify_key_bytes(key.version)
                ).vkey(),
                key.key_id,
                int(key.created_at.timestamp()),
                int(versions[n + 1].created_at.timestamp()) if n + 1 < len(versions) else None,
            )
            for n, key in enumerate(versions)
        ]

    def signer_state(self) -> SignerState | None:
        """The last checkpoint the signer signed, from its own state (None before the first)."""
        return self._signer.state()

    def checkpoint(self) -> bytes:
        """Sign a checkpoint of the log as it is now; the latest signed note.

        Refuses (:class:`~servinfo.audit.signer.SignerRefused`,
        :class:`LogTampered`) when the stored log does not extend the last
        checkpoint the signer signed, its state's MAC fails, or another signer
        has signed this log.
        """
        if not self._signs:
            raise SignerRefused(
                "this process does not sign checkpoints (audit.sign_checkpoints = false): the "
                "deployment's signing host signs them"
            )
        with self._signer.session() as last:
            with self._snapshot() as connection:
                next_seq, stored, mac = _storage.read_state(connection)
                latest = _storage.latest_checkpoint_size(connection)
                if last is None and latest is not None:
                    raise SignerRefused(
                        f"the signer's state is missing but the log has checkpoints up to size "
                        f"{latest}: restore the state file ({self._signer.state_file.name}) "
                        "from the key source's backup; refusing to sign"
                    )
                if last is not None and latest is not None and latest > last.size:
                    # Signing from here would fork the chain of checkpoints.
                    raise SignerRefused(
                        f"the log has a checkpoint of size {latest}, newer than the last this "
                        f"signer signed ({last.size}): another signer signs this log (set "
                        "audit.sign_checkpoints = false on every host but one), or this "
                        "signer's state was rolled back; refusing to sign"
                    )
                if last is not None and stored.size == last.size and stored == last.frontier:
                    if latest != last.size:
                        # A crash after the state was saved, before its row was stored.
                        self._store_checkpoint(last)
                    self._signed(last.size)
                    return last.note
                self._check_state_mac(next_seq, stored, mac)
                start = last.size if last is not None else 0
                # This process's own extension of the signer's tree, when it made every
                # append since (no hashing); else the leaf hashes it holds, or the stored.
                extended = self._recent.extended(
                    last.frontier if last is not None else CompactRange(), stored
                )
                leaves = [] if extended is not None else self._recent.leaves(start, stored.size)
                if leaves is None:
                    leaves = _storage.leaf_hash_range(connection, start, stored.size)
            if mac is None:
                # The empty log's state, or one from before MACs: it gets its MAC before the
                # signer's state exists, from when on a missing MAC means tampering.
                with write_transaction(self._engine) as connection:
                    sealed = stored.to_bytes()
                    _storage.set_missing_mac(
                        connection, next_seq, sealed, self._state_mac(next_seq, sealed)
                    )
            state = self._signer.sign(last, leaves, stored, extended=extended)
            self._recent.signed(state.size)
            if last is not None and (latest is None or latest < last.size):
                # A crash lost the row of the signer's last checkpoint, which the new one
                # names as its previous: store it first, or the chain would show a gap.
                self._store_checkpoint(last)
            self._store_checkpoint(state)
        self._signed(state.size)
        return state.note

    def _store_checkpoint(self, state: SignerState) -> None:
        with write_transaction(self._engine) as connection:
            _storage.insert_checkpoint(
                connection, state.size, state.note, state.frontier.to_bytes()
            )

    def _signed(self, size: int) -> None:
        self._signed_size, self._signed_at = max(size, self._signed_size or 0), self._clock()
        self.checkpoint_signed.set()

    def checkpoint_if_due(self) -> bytes | None:
        """Sign a checkpoint if one is due by count or time; for a timer on a quiet log.

        Refusals are logged and counted, not raised (the timer goes on).
        """
        with self._engine.connect() as connection:
            size = _storage.read_state(connection)[0]
        return self._checkpoint_if_due(size)

    def _checkpoint_if_due(self, size: int) -> bytes | None:
        if self._signed_size is None:
            with self._engine.connect() as connection:
                self._signed_size = _storage.latest_checkpoint_size(connection) or 0
        unsigned = size - self._signed_size
        if unsigned <= 0:
            return None
        if unsigned < self._every_entries and self._clock() - self._signed_at < self._every_seconds:
            return None
        return self.sign_or_report()

    def sign_or_report(self) -> bytes | None:
        """:meth:`checkpoint`, with a refusal logged and counted instead of raised: for
        appends, timers and exits, whose own work is already committed. A process that
        does not sign returns None."""
        if not self._signs:
            return None
        try:
            return self.checkpoint()
        except Exception as error:  # the caller's own work is committed: never undo its answer
            CHECKPOINT_REFUSALS.inc()
            reason = error.message if isinstance(error, AuditError) else type(error).__name__
            _logger.error("audit checkpoint refused: %s", reason)
            self._signed_at = self._clock()  # retried at the next due time, not every append
            return None

    def latest_checkpoint(self) -> bytes | None:
        """The newest checkpoint with every cosignature stored for it, or None before the first."""
        with self._engine.connect() as connection:
            size = _storage.latest_checkpoint_size(connection)
            return None if size is None else self._cosigned(connection, size)

    def checkpoint_of_size(self, size: int) -> bytes:
        """The checkpoint of ``size`` with its cosignatures (:class:`HeadNotFound`)."""
        with self._engine.connect() as connection:
            return self._cosigned(connection, size)

    def _cosigned(self, connection: Connection, size: int) -> bytes:
        row = _storage.checkpoint_row(connection, size)
        if row is None:
            raise HeadNotFound(f"no checkpoint of size {size}")
        note = Note.parse(row[0])
        extra = tuple(
            NoteSignature(name, key_id, signature)
            for name, key_id, signature in _storage.cosignatures(connection, size)
        )
        return Note(note.text, note.signatures + extra).to_bytes()

    def checkpoint_sizes(self) -> list[int]:
        """The sizes of every stored checkpoint, oldest first."""
        with self._engine.connect() as connection:
            return _storage.checkpoint_sizes(connection)

    def signed_note(self, size: int) -> bytes:
        """The checkpoint of ``size`` as the log key signed it, without cosignatures."""
        with self._engine.connect() as connection:
            row = _storage.checkpoint_row(connection, size)
        if row is None:
            raise HeadNotFound(f"no checkpoint of size {size}")
        return row[0]

    def cosigned_sizes(self) -> dict[tuple[str, bytes], int]:
        """The largest checkpoint each witness key ``(name, key id)`` has cosigned."""
        with self._engine.connect() as connection:
            return _storage.cosigned_sizes(connection)

    def add_cosignatures(self, size: int, signatures: Sequence[NoteSignature]) -> None:
        """Store witnesses' cosignatures of the checkpoint of ``size`` (verified by the caller)."""
        with write_transaction(self._engine) as connection:
            _storage.insert_cosignatures(
                connection, size, [(s.name, s.key_id, s.signature) for s in signatures]
            )

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

    def inclusion(self, index: int) -> tuple[bytes, tuple[bytes, ...], bytes]:
        """Entry ``index``'s stored bytes, its inclusion proof, and the checkpoint it is
        proved against (the latest, signed first if it does not cover the entry)."""
        if index < 0:
            raise EntryNotFound(f"entry {index} does not exist")
        with self._engine.connect() as connection:
            size = _storage.latest_checkpoint_size(connection)
        if size is None or index >= size:
            self.checkpoint()
        with self._snapshot() as connection:
            size = _storage.latest_checkpoint_size(connection) or 0
            if index >= size:
                raise EntryNotFound(f"entry {index} does not exist: the log has {size} entries")
            checkpoint = self._cosigned(connection, size)
            hashes = _storage.leaf_hashes(connection, size)
            stored = _storage.entry_bytes(connection, index, index + 1)
        if not stored:
            raise LogTampered(index, "the entry is covered by a checkpoint but no longer stored")
        return stored[0][1], tuple(inclusion_proof(hashes, index)), checkpoint

    def consistency(self, old_size: int, new_size: int | None = None) -> ConsistencyProof:
        """Prove the checkpoint of ``old_size`` is a prefix of that of ``new_size`` (default
        latest). Both must be sizes of stored checkpoints."""
        if new_size is not None and old_size > new_size:
            raise RangeInvalid(f"from {old_size} is larger than to {new_size}")
        with self._snapshot() as connection:
            size = new_size if new_size is not None else _storage.latest_checkpoint_size(connection)
            old = _storage.checkpoint_row(connection, old_size)
            if old is None:
                raise HeadNotFound(f"no checkpoint of size {old_size}")
            if size is None or _storage.checkpoint_row(connection, size) is None:
                raise HeadNotFound(f"no checkpoint of size {new_size}")
            if old_size > size:
                raise RangeInvalid(f"from {old_size} is larger than the latest checkpoint {size}")
            frontier = stored_frontier(old[1], old_size)
            if frontier is None:
                raise LogTampered(
                    old_size, f"the stored compact range of checkpoint {old_size} is unreadable"
                )
            leaves = _storage.leaf_hash_range(connection, old_size, size)
            checkpoint = self._cosigned(connection, size)
        return ConsistencyProof(
            old_size, tuple(consistency_proof_from_frontier(frontier, leaves)), checkpoint
        )

    # -- verification -------------------------------------------------------

    def verify(self, *, trusted: Sequence[bytes] = (), chunk: int = _storage.CHUNK) -> VerifyReport:
        """Rehash every stored entry and check every checkpoint and head; raise at the first
        problem.

        Beyond :func:`verify_chunks`: every checkpoint is signed by the log key,
        names the one before it, and folds from its stored frontier; the
        signer's own state names the latest one; the sequencing state carries
        its MAC and continues exactly the stored log; each checkpoint in
        ``trusted`` (signed notes an auditor saved) is a prefix of the log.
        One snapshot of the database, streamed in chunks of ``chunk`` rows.
        """
        verifiers = self.log_verifiers()
        outside = [trusted_claim(note, verifiers, self.origin, n) for n, note in enumerate(trusted)]
        signer = self._signer.state()
        try:
            with self._snapshot() as connection:
                next_seq, state, mac = _storage.read_state(connection)
                heads = _storage.heads(connection)
                stored = [
                    (size, bytes(note), bytes(frontier))
                    for size, note, frontier in _storage.checkpoints(connection)
                ]
                check_legacy_heads([head for head, _ in heads], self.legacy_public_keys())
                claims = [SignedRoot(h.tree_size, h.root_hash, f"tree head {h.tree_size}")
                          for h, _ in heads]  # fmt: skip
                claims += checkpoint_claims(stored, verifiers, self.origin, signer)
                claims += outside
                claims.sort(key=lambda claim: claim.tree_size)
                # Closed here, not when collected: a bad entry stops the pass early,
                # and the driver cursor must close before the connection does.
                with closing(_storage.stream_chunks(connection, chunk=chunk)) as chunks:
                    report = verify_chunks(chunks, claims)
        except _storage.DATABASE_ERRORS as error:
            cause = error.orig if isinstance(error, DBAPIError) else error
            raise AuditError(
                f"the audit log's tables cannot be read ({type(cause).__name__}): "
                "a table is missing or altered"
            ) from None
        for head, frontier in heads:
            check_frontier(head.tree_size, head.root_hash, frontier, "tree head")
        check_state(report, next_seq, state)
        if mac is not None or signer is not None:
            self._check_state_mac(next_seq, state, mac)
        return replace(
            report,
            heads=len(heads),
            checkpoints=len(stored),
            latest_checkpoint=stored[-1][1] if stored else None,
        )

    def legacy_public_keys(self) -> dict[str, bytes]:
        """Each ``audit_signing`` version's raw key, by key id: heads signed before checkpoints."""
        return {
            key.key_id: self._keyring.verify_key_bytes(key.version)
            for key in self._keyring.versions(AUDIT_SIGNING)
        }

    # -- helpers ------------------------------------------------------------

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
