"""Evidence that entries are in the log: one witnessed checkpoint, its trust policy, and a C2SP
tlog-proof per entry, for an auditor who holds nothing but these texts.

:func:`entry_evidence` is what the access history of an export is built on:

(1) a checkpoint covering the largest index (signed now if the latest is too
    small);
(2) submitted to the deployment's witnesses at once (:meth:`Witnessing.run_once`,
    bounded by ``timeout``), so that it carries their cosignatures when they
    answer;
(3) the checkpoint the proofs are against: the latest if its cosignatures meet
    the witness policy's quorum, else the newest checkpoint large enough that
    does, else the latest unwitnessed (the result says which: ``witnessed``);
(4) the trust policy (C2SP tlog-policy) an auditor checks it with: the log
    key(s) that signed that checkpoint, the witnesses and the quorum
    (``quorum none`` without a witness policy);
(5) the inclusion proofs of every index in ONE pass over the leaf hashes of the
    tree, read in chunks: the tree is built level by level as
    :func:`~servinfo.audit.merkle.root_from_leaf_hashes` builds it and only the
    sibling nodes of the requested paths are kept. Ten thousand proofs cost one
    tree's hashing, not ten thousand (:meth:`AuditLog.inclusion` hashes the
    whole tree for each). The pass ends by checking its root against the
    checkpoint's, and the leaf hash of every requested index against the
    entry's bytes when the caller passes them, so every proof handed out
    verifies (:class:`LogTampered` otherwise).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.errors import EntryNotFound, LogTampered, QuorumNotMet
from servinfo.audit.history import SubjectHistory
from servinfo.audit.log import AuditLog
from servinfo.audit.merkle import EMPTY_ROOT
from servinfo.audit.note import Note, open_note
from servinfo.audit.policy import TrustPolicy
from servinfo.audit.signer import SignerRefused
from servinfo.audit.tlog_proof import HEADER
from servinfo.audit.witnessing import Witnessing

__all__ = [
    "CHUNK_LEVEL",
    "DEFAULT_WITNESS_TIMEOUT",
    "Evidence",
    "LogEvidence",
    "entry_evidence",
    "inclusion_proofs",
]

#: How long an export waits for the witnesses' cosignatures, in seconds.
DEFAULT_WITNESS_TIMEOUT = 10.0
#: Leaves per chunk of the pass, as a power of two: a chunk is a whole subtree.
CHUNK_LEVEL = 16
_logger = logging.getLogger("servinfo.audit.evidence")
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class Evidence:
    """Proofs of entries against one checkpoint, and the policy to check them with."""

    #: The signed note, with the cosignatures stored for it.
    checkpoint: bytes
    #: C2SP tlog-policy text: the log key(s) that signed it, the witnesses, the quorum.
    trust_policy: str
    #: Each requested index's C2SP tlog-proof text.
    proofs: Mapping[int, str]
    #: Whether the deployment has a witness policy and the checkpoint meets its quorum.
    witnessed: bool
    #: The witnesses (policy names) whose cosignatures of the checkpoint verified.
    cosigned_by: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """The size of the tree the proofs are against."""
        return Checkpoint.from_body(Note.parse(self.checkpoint).text).size


class LogEvidence:
    """A deployment's history and evidence of a subject's entries, for its access exports.

    ``witnessing`` makes a :class:`Witnessing` for one export (the signing host,
    with a witness policy); it is closed when the evidence is built.
    """

    def __init__(
        self,
        log: AuditLog,
        witness_policy: TrustPolicy | None = None,
        witnessing: Callable[[], Witnessing] | None = None,
        *,
        timeout: float = DEFAULT_WITNESS_TIMEOUT,
    ) -> None:
        self._log = log
        self._policy = witness_policy
        self._witnessing = witnessing if witness_policy is not None else None
        self._timeout = timeout

    def subject_history(self, subject_id: str) -> SubjectHistory | None:
        """Every entry about ``subject_id`` (:meth:`AuditLog.subject_history`)."""
        return self._log.subject_history(subject_id)

    def evidence(self, indexes: Sequence[int], entries: Mapping[int, bytes]) -> Evidence:
        """:func:`entry_evidence` of ``indexes`` under the deployment's witness policy."""
        witnessing = self._witnessing() if self._witnessing is not None else None
        try:
            return entry_evidence(
                self._log,
                indexes,
                witness_policy=self._policy,
                witnessing=witnessing,
                entries=entries,
                timeout=self._timeout,
            )
        finally:
            if witnessing is not None:
                witnessing.close()


def entry_evidence(
    log: AuditLog,
    indexes: Iterable[int],
    *,
    witness_policy: TrustPolicy | None = None,
    witnessing: Witnessing | None = None,
    entries: Mapping[int, bytes] | None = None,
    timeout: float = DEFAULT_WITNESS_TIMEOUT,
) -> Evidence:
    """Evidence for the entries at ``indexes``; see the module docstring for the steps.

    ``witness_policy`` is the deployment's (None: the checkpoint is signed by
    the log but not witnessed); ``witnessing`` submits to its witnesses (None: a
    host that does not sign, or no policy; the stored cosignatures still
    count). ``entries``, when given, are the bytes the caller ships for those
    indexes: each must hash to the stored leaf.
    """
    wanted = sorted(set(indexes))
    if wanted and wanted[0] < 0:
        raise EntryNotFound(f"entry {wanted[0]} does not exist")
    needed = wanted[-1] + 1 if wanted else 0
    # (1)
    latest = log.latest_checkpoint()
    if latest is None or _size_of(latest) < needed:
        if log.signs:
            log.checkpoint()
            latest = log.latest_checkpoint()
        else:
            latest = _signed_elsewhere(log, needed, timeout)
        assert latest is not None
        if _size_of(latest) < needed:
            raise EntryNotFound(
                f"entry {needed - 1} does not exist: the log has {_size_of(latest)} entries"
            )
    # (2)
    if witnessing is not None and witness_policy is not None:
        _witness(witnessing, timeout)
    # (3) + (4)
    note, policy, cosigned_by, witnessed = _choose(log, witness_policy, needed)
    # (5)
    checkpoint = Checkpoint.from_body(Note.parse(note).text)
    with _leaf_chunks(log.engine, checkpoint.size) as chunks:
        paths, root, leaves = inclusion_proofs(chunks, checkpoint.size, wanted)
    if root != checkpoint.root_hash:
        raise LogTampered(
            max(checkpoint.size - 1, 0),
            f"the stored leaf hashes do not fold to the root of checkpoint {checkpoint.size}",
        )
    for index, data in (entries or {}).items():
        if leaves.get(index) != _sha256(b"\x00" + data).digest():
            raise LogTampered(index, "the entry's bytes do not hash to its stored leaf hash")
    # TlogProof(index, path, note).to_text(), written directly: ten thousand proofs would
    # parse the same checkpoint ten thousand times (a test holds the texts equal), and
    # the nodes near the root are in most proofs: each is encoded once.
    tail = "\n" + note.decode("utf-8")
    lines: dict[bytes, str] = {}
    b64 = base64.b64encode

    def line(node: bytes) -> str:
        found = lines.get(node)
        if found is None:
            found = lines[node] = b64(node).decode() + "\n"
        return found

    proofs = {
        index: f"{HEADER}\nindex {index}\n" + "".join(map(line, path)) + tail
        for index, path in paths.items()
    }
    return Evidence(note, policy, proofs, witnessed, cosigned_by)


def _signed_elsewhere(log: AuditLog, needed: int, timeout: float) -> bytes:
    """On a host that does not sign (``audit.sign_checkpoints = false``), the signing
    host's first checkpoint of at least ``needed`` entries: it signs one within
    ``audit.checkpoint_seconds`` of an append, so this waits (at most ``timeout``)."""
    deadline = time.monotonic() + timeout
    pause = 0.05
    while True:
        latest = log.latest_checkpoint()
        if latest is not None and _size_of(latest) >= needed:
            return latest
        if time.monotonic() >= deadline:
            raise SignerRefused(
                f"no checkpoint covers entry {needed - 1} after {timeout:g} s: this host does "
                "not sign checkpoints (audit.sign_checkpoints = false), and the signing host "
                "has not signed one; is it running?"
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def inclusion_proofs(
    leaf_chunks: Iterable[Sequence[bytes]],
    size: int,
    indexes: Sequence[int],
    *,
    chunk_level: int = CHUNK_LEVEL,
) -> tuple[dict[int, list[bytes]], bytes, dict[int, bytes]]:
    """The RFC 9162 inclusion proof of each of ``indexes`` (sorted) in the tree of ``size``.

    ``leaf_chunks`` are the tree's leaf hashes in order, in chunks of
    ``2**chunk_level`` (the last may be shorter). Returns the proofs, the
    tree's root and the requested leaves' hashes.

    The tree is built as :func:`~servinfo.audit.merkle.root_from_leaf_hashes`
    builds it: level by level, an odd last node moving up unchanged. At level
    L the node of leaf i is ``i >> L`` and its sibling ``(i >> L) ^ 1``, when
    the level has that many nodes; the proof is those siblings from the leaf up
    (PATH of RFC 9162 2.1.3.1). A chunk is a whole subtree: its levels are
    built and dropped, keeping its root and the siblings wanted in it.
    """
    if indexes and not 0 <= indexes[0] <= indexes[-1] < size:
        raise ValueError(f"indexes must lie in 0..{size - 1}")
    height = (size - 1).bit_length() if size > 1 else 0
    # Sibling positions wanted at each level, sorted: a run of nodes takes its own by bisect.
    wanted = [sorted({(i >> level) ^ 1 for i in indexes}) for level in range(height)]
    found: list[dict[int, bytes]] = [{} for _ in range(height)]
    leaves: dict[int, bytes] = {}
    tops: list[bytes] = []  # each chunk's root: the nodes of level chunk_level
    offset = 0
    for chunk in leaf_chunks:
        end = offset + len(chunk)
        if len(chunk) != 1 << chunk_level and end != size:
            raise ValueError(f"chunks hold {1 << chunk_level} leaves, but the last")
        lo, hi = bisect.bisect_left(indexes, offset), bisect.bisect_left(indexes, end)
        for i in indexes[lo:hi]:
            leaves[i] = chunk[i - offset]
        if chunk:
            tops.append(_fold(list(chunk), offset, 0, wanted, found))
        offset = end
    if offset != size:
        raise LogTampered(min(offset, size), f"the log holds {offset} of the {size} leaves")
    root = _fold(tops, 0, chunk_level, wanted, found) if tops else EMPTY_ROOT
    gets = [(level, found[level].get) for level in range(height)]
    proofs = {
        i: [node for level, get in gets if (node := get((i >> level) ^ 1)) is not None]
        for i in indexes
    }
    return proofs, root, leaves


def _fold(
    nodes: list[bytes],
    offset: int,
    level: int,
    wanted: Sequence[Sequence[int]],
    found: list[dict[int, bytes]],
) -> bytes:
    """Build the nodes of ``level`` that cover leaves from ``offset`` up to a single node,
    keeping the wanted siblings met on the way; that node.

    ``nodes`` must be a whole subtree, or end at the tree's last leaf (where an odd
    last node moves up unchanged, as in the whole tree).
    """
    sha256, prefix = _sha256, b"\x01"
    start = offset >> level
    while True:
        if level < len(wanted):
            positions = wanted[level]
            lo = bisect.bisect_left(positions, start)
            hi = bisect.bisect_left(positions, start + len(nodes))
            keep = found[level]
            for p in positions[lo:hi]:
                keep[p] = nodes[p - start]
        if len(nodes) == 1:
            return nodes[0]
        pairs = iter(nodes)
        parents = [sha256(prefix + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        if len(nodes) & 1:
            parents.append(nodes[-1])
        nodes, level, start = parents, level + 1, start >> 1


#: The leaf hashes of a range of entries. Not ``_storage.leaf_hash_range``: the pass
#: reads every leaf of the tree, and that one reads PostgreSQL's bytea as text and copies
#: every row (a third of the pass's time on a million entries).
#: How much of an SQLite database the pass maps into memory at most.
_MMAP_BYTES = 1 << 30
_LEAVES = "SELECT leaf_hash FROM audit_entries WHERE seq >= {p} AND seq < {p} ORDER BY seq"


@contextmanager
def _leaf_chunks(engine: Engine, size: int) -> Iterator[Iterator[list[bytes]]]:
    """The stored leaf hashes of the tree of ``size``, a chunk (one range query) at a time.

    On PostgreSQL a thread reads the next chunks while this one hashes: the
    server's time is spent outside this process, and waiting lets go of the
    GIL. SQLite works inside the process and its rows are built holding the
    GIL: reading ahead there gained nothing.
    """
    step = 1 << CHUNK_LEVEL
    starts = range(0, size, step)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            # Pages mapped rather than copied through the page cache: the pass reads the
            # whole table (a sixth less time on a million entries). Back to the default
            # after, the connection returns to the pool.
            driver = connection.connection.driver_connection
            assert driver is not None
            driver.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
            try:
                yield (_read_leaves(connection, s, min(s + step, size)) for s in starts)
            finally:
                driver.execute("PRAGMA mmap_size=0")
        return
    ready: queue.Queue[list[bytes] | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def read() -> None:
        try:
            with engine.connect() as connection:
                for start in starts:
                    if stop.is_set():
                        return
                    ready.put(_read_leaves(connection, start, min(start + step, size)))
            ready.put(None)
        except BaseException as error:  # handed to the hashing thread, which raises it
            ready.put(error)

    def chunks() -> Iterator[list[bytes]]:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    reader = threading.Thread(target=read, name="servinfo-evidence-leaves", daemon=True)
    reader.start()
    try:
        yield chunks()
    finally:
        stop.set()
        while reader.is_alive():  # a reader blocked on a full queue takes one more turn
            with suppress(queue.Empty):
                ready.get(timeout=0.05)
        reader.join()


def _read_leaves(connection: Connection, start: int, end: int) -> list[bytes]:
    driver = connection.connection.driver_connection
    assert driver is not None
    if connection.dialect.name == "sqlite":
        rows = driver.execute(_LEAVES.format(p="?"), (start, end)).fetchall()
    else:
        with driver.cursor(binary=True) as cursor:  # bytea as bytes, unparsed
            rows = cursor.execute(_LEAVES.format(p="%s"), (start, end)).fetchall()
    return [leaf for (leaf,) in rows]


def _witness(witnessing: Witnessing, timeout: float) -> None:
    """One round of submissions, waited for at most ``timeout`` seconds.

    A witness slower than that does not hold the export up: the round goes on
    in its thread and stores the cosignatures when they come (the next export
    carries them).
    """

    def run() -> None:
        try:
            witnessing.run_once()  # logs and counts each witness that did not cosign
        except Exception:  # the evidence falls back to what is stored; the failure is logged
            _logger.exception("witnessing for an export failed")

    thread = threading.Thread(target=run, name="servinfo-evidence-witnessing", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        _logger.warning("the witnesses did not answer within %.1f s; exporting without", timeout)


def _choose(
    log: AuditLog, policy: TrustPolicy | None, needed: int
) -> tuple[bytes, str, tuple[str, ...], bool]:
    """The checkpoint to prove against, its trust policy, who cosigned it, and whether they
    meet the quorum."""
    latest = log.latest_checkpoint()
    assert latest is not None
    text, verdict = _judged(log, policy, latest)
    if policy is None or verdict is not None:
        return latest, text, verdict or (), verdict is not None and policy is not None
    # The latest lacks its quorum (a witness is down or slow): the newest checkpoint a
    # witness cosigned that still covers every entry, if its cosignatures meet it.
    for size in sorted(set(log.cosigned_sizes().values()), reverse=True):
        if needed <= size < _size_of(latest):
            note = log.checkpoint_of_size(size)
            older, verdict = _judged(log, policy, note)
            if verdict is not None:
                return note, older, verdict, True
    return latest, text, _cosigners(policy, latest), False


def _judged(
    log: AuditLog, policy: TrustPolicy | None, note: bytes
) -> tuple[str, tuple[str, ...] | None]:
    """``note``'s trust policy, and the witnesses whose cosignatures verified if they meet its
    quorum (None if they do not)."""
    text = _trust_policy(log, policy, note)
    try:
        verified = TrustPolicy.parse(text).verify_checkpoint(note)
    except QuorumNotMet:
        return text, None
    return text, tuple(sorted(verified.cosignatures))


def _cosigners(policy: TrustPolicy, note: bytes) -> tuple[str, ...]:
    """The witnesses of ``policy`` whose cosignatures of ``note`` verify."""
    witnesses = {(w.verifier.name, w.verifier.key_id): w for w in policy.witnesses}
    parsed = Note.parse(note)
    return tuple(
        sorted(
            witness.name
            for s in parsed.signatures
            if (witness := witnesses.get((s.name, s.key_id))) is not None
            and witness.verifier.timestamp_of(parsed.text, s.signature) is not None
        )
    )


def _trust_policy(log: AuditLog, policy: TrustPolicy | None, note: bytes) -> str:
    """The tlog-policy of the evidence: the log key(s) that signed ``note``, then the witness
    policy's witnesses, groups and quorum (``quorum none`` without one)."""
    verifiers = log.log_verifiers()
    _, signatures = open_note(note, verifiers)
    signed = {(s.name, s.key_id) for s in signatures}
    lines = [f"log {v.vkey()}" for v in verifiers if (v.name, v.key_id) in signed]
    if policy is None:
        return "\n".join([*lines, "quorum none"]) + "\n"
    theirs = policy.to_text().splitlines()
    return "\n".join(lines + [line for line in theirs if not line.startswith("log ")]) + "\n"


def _size_of(note: bytes) -> int:
    return Checkpoint.from_body(Note.parse(note).text).size
