"""Full verification of the stored audit log, as ``servinfo audit verify`` runs it.

One streaming pass over the stored rows ``(seq, canonical bytes, leaf hash)`` in
``seq`` order, checked against every signed root the log must contain: its
checkpoints, the tree heads signed before checkpoints existed, and checkpoints
an auditor saved (:class:`SignedRoot`, whose signatures the caller checked).
The stored bytes are rehashed as stored, never re-serialized (see
:mod:`servinfo.audit.entries`). What each kind of tampering trips over:

======================================  ==============================================
tampering                               detected because
======================================  ==============================================
entry content changed                   its bytes no longer hash to its stored leaf
                                        hash; or, if both were changed, the root at the
                                        next signed head differs
entries deleted, inserted or reordered  ``seq`` is not 0, 1, 2, … in order; or, if the
                                        rows were renumbered, the next head's root differs
log truncated                           a signed head covers entries that are gone
forged head                             its signature does not verify with the audit
                                        key; or, signed by the real key over a wrong
                                        root, its root is not the log's root at its size
log rolled back or forked               heads shrink; or two heads disagree on a prefix,
                                        so one of them differs from the log's root
======================================  ==============================================

Every head is compared with the root of the stored log at the head's size, so
heads that pass are prefixes of one log: consistent with each other, without
consistency proofs.

The first problem stops the check, and is raised rather than returned, so no
caller can ignore it: :class:`HeadInvalid` for a legacy head that fails its
signature or goes backwards (:func:`check_legacy_heads`, before any entry is
read), :class:`LogTampered` for the entries, naming the first entry that the
signed log no longer vouches for. Success returns a :class:`VerifyReport`.

What this cannot show on its own: entries after the latest checkpoint are only
checked against their own hashes (``VerifyReport.unsigned_entries``), and a
rewrite of the whole log *with* all of its checkpoints needs evidence kept
outside the database: the signer's state, checkpoints an auditor saved, and
witnesses' cosignatures (:meth:`servinfo.audit.log.AuditLog.verify`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

from servinfo.audit.errors import HeadInvalid, LogTampered
from servinfo.audit.heads import PublicKeys, TreeHead, verify_tree_head
from servinfo.audit.merkle import CompactRange, leaf_hash

__all__ = ["SignedRoot", "VerifyReport", "check_legacy_heads", "verify_chunks", "verify_log"]

#: Entries checked per step; ``entries`` is consumed this many at a time.
_CHUNK = 8192


@dataclass(frozen=True)
class SignedRoot:
    """A root someone signed for the log at ``tree_size``: it must be the log's root there."""

    tree_size: int
    root_hash: bytes
    #: How messages name it: "checkpoint 1200", "tree head 15", "trusted checkpoint 900".
    label: str
    #: Saved by an auditor (outside the database) rather than stored in it.
    trusted: bool = False


@dataclass(frozen=True)
class VerifyReport:
    """A log that verified: its size, its root and what vouches for it."""

    entries: int
    root: bytes
    #: The largest size a signed root covers.
    signed_entries: int
    #: Tree heads signed before checkpoints existed.
    heads: int = 0
    checkpoints: int = 0
    #: The newest stored checkpoint's signed note.
    latest_checkpoint: bytes | None = None

    @property
    def unsigned_entries(self) -> int:
        """Entries appended after the latest checkpoint: consistent, but not yet signed."""
        return self.entries - self.signed_entries


def check_legacy_heads(heads: Sequence[TreeHead], public_key_bytes: PublicKeys) -> None:
    """Every legacy head is signed by the audit key, and the heads never shrink."""
    for n, head in enumerate(heads):
        if not verify_tree_head(head, public_key_bytes):
            raise HeadInvalid(
                f"tree head {head.tree_size} (#{n}, key {head.key_id}): "
                "signature does not verify with the audit key",
                tree_size=head.tree_size,
            )
        if n and head.tree_size < heads[n - 1].tree_size:
            raise HeadInvalid(
                f"tree head {head.tree_size} (#{n}) was issued after tree head "
                f"{heads[n - 1].tree_size}: the log went backwards",
                tree_size=head.tree_size,
            )


def verify_log(
    entries: Iterable[tuple[int, bytes, bytes]],
    heads: Sequence[TreeHead],
    public_key_bytes: PublicKeys,
) -> VerifyReport:
    """Verify every stored entry against signed tree heads in one pass; raise at the first
    problem.

    ``entries`` yields ``(seq, stored bytes, stored leaf hash)`` ordered by
    ``seq``; ``heads`` are the stored heads in the order they were issued.
    """
    check_legacy_heads(heads, public_key_bytes)
    claims = [SignedRoot(h.tree_size, h.root_hash, f"tree head {h.tree_size}") for h in heads]
    rows = iter(entries)
    report = verify_chunks(iter(lambda: list(islice(rows, _CHUNK)), []), claims)
    return VerifyReport(report.entries, report.root, report.signed_entries, heads=len(heads))


def verify_chunks(
    chunks: Iterable[Sequence[tuple[int, bytes, bytes]]],
    claims: Sequence[SignedRoot],
) -> VerifyReport:
    """Verify the entries, in consecutive chunks of any size, against ``claims`` (sorted by
    size, signatures already checked).

    The storage streams the driver's own row lists here, so no step runs per row
    outside the hashing comprehension.
    """
    frontier = CompactRange()
    vouched = _Vouched()
    pending = _match(claims, 0, frontier, vouched)
    count = 0
    sha256, prefix = hashlib.sha256, b"\x00"
    # The entries are checked a chunk at a time, each step as one comprehension
    # over the chunk, in the order below: a million entries take seconds, not
    # minutes. Problems are still reported in log order: nothing after the
    # first bad entry is used, and roots before it are checked first.
    for chunk in chunks:
        if not chunk:
            continue
        end = count + len(chunk)
        # Columns by comprehension, not ``zip(*chunk)``: that makes an iterator per row,
        # and tens of thousands of live objects set off the cyclic collector's full passes.
        stored = [stored_hash for _, _, stored_hash in chunk]
        # (1) Rows are numbered 0, 1, 2, … with nothing missing or moved.
        seq_ok = [seq for seq, _, _ in chunk] == list(range(count, end))
        # (2) The stored bytes are the ones whose hash is in the tree.
        try:
            hash_ok = [sha256(prefix + data).digest() for _, data, _ in chunk] == stored
        except TypeError:  # a value stored as text or a number, not as the hashed bytes
            hash_ok = False
        bad = len(chunk) if seq_ok and hash_ok else _first_bad(chunk, count)
        # (3) At each signed size, the log's root is the root signed.
        done = 0
        while pending < len(claims) and claims[pending].tree_size <= count + bad:
            size = claims[pending].tree_size
            frontier.extend(stored[done : size - count])
            done = size - count
            pending = _match(claims, pending, frontier, vouched)
        if bad < len(chunk):
            seq, data, stored_hash = chunk[bad]
            if seq != count + bad:
                raise LogTampered(
                    count + bad,
                    f"found entry {seq} in its place: entries were deleted or reordered",
                )
            if not isinstance(data, bytes) or not isinstance(stored_hash, bytes):
                raise LogTampered(count + bad, "it is not stored as bytes")
            raise LogTampered(count + bad, "its stored bytes do not hash to its stored leaf hash")
        frontier.extend(stored[done:])
        count = end
    # (4) Nothing signed covers entries that are no longer stored.
    if pending < len(claims):
        claim = claims[pending]
        how = (
            "the log was rolled back"
            if claim.trusted
            else f"entries {count}..{claim.tree_size - 1} were removed"
        )
        raise LogTampered(
            count,
            f"the log ends after {count} entries but {claim.label} covers {claim.tree_size}: {how}",
        )
    signed = claims[-1].tree_size if claims else 0
    return VerifyReport(count, frontier.root(), signed)


def _first_bad(chunk: Sequence[tuple[int, bytes, bytes]], count: int) -> int:
    """The position in ``chunk`` of its first misnumbered, mistyped or mis-hashed row."""
    for i, (seq, data, stored_hash) in enumerate(chunk):
        if seq != count + i or not isinstance(data, bytes) or leaf_hash(data) != stored_hash:
            return i
    return len(chunk)


class _Vouched:
    """Sizes of the last claims that matched: entries before them are vouched for."""

    __slots__ = ("any", "trusted")

    def __init__(self) -> None:
        self.any = 0
        self.trusted = 0


def _match(
    claims: Sequence[SignedRoot], pending: int, frontier: CompactRange, vouched: _Vouched
) -> int:
    """Compare the claims of the frontier's size with its root; return the next pending claim.

    A mismatch names the first entry after the last claim that matched; for a
    checkpoint an auditor saved, after the last *saved* one that matched: the
    log's own checkpoints may have been re-signed over the rewrite.
    """
    root, size, matched = frontier.root(), frontier.size, False
    while pending < len(claims) and claims[pending].tree_size == size:
        claim = claims[pending]
        if claim.root_hash != root:
            if size == 0:
                raise LogTampered(0, f"{claim.label} does not sign the empty tree: a forgery")
            if claim.trusted:
                raise LogTampered(
                    vouched.trusted,
                    f"the log's root at size {size} is not the root of the {claim.label}: "
                    f"entries {vouched.trusted}..{size - 1} were rewritten or forked after it "
                    "was saved",
                )
            if matched:
                raise LogTampered(
                    size - 1,
                    f"{claim.label} signs a different root than another signed root of that "
                    "size: a forgery or a forked log",
                )
            raise LogTampered(
                vouched.any,
                f"entries {vouched.any}..{size - 1} do not hash to the root signed in "
                f"{claim.label}: an entry was changed, inserted or removed, or it was forged",
            )
        matched, vouched.any, pending = True, size, pending + 1
        if claim.trusted:
            vouched.trusted = size
    return pending
