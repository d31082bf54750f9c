"""Full verification of the stored audit log, as ``servinfo audit verify`` runs it.

One streaming pass over the stored rows ``(seq, canonical bytes, leaf hash)`` in
``seq`` order, checked against the stored signed tree heads in the order they
were issued. The stored bytes are rehashed as stored, never re-serialized
(see :mod:`servinfo.audit.entries`). What each kind of tampering trips over:

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
caller can ignore it: :class:`HeadInvalid` for a head that fails its signature
or goes backwards (checked before any entry is read), :class:`LogTampered` for
the entries, naming the first entry that the signed log no longer vouches
for. Success returns a :class:`VerifyReport`.

What this cannot show on its own: entries after the latest head are only
checked against their own hashes (``VerifyReport.unsigned_entries``), and a
rewrite of the whole log *with* all of its heads needs a head saved outside
the database: prove consistency from it (:func:`verify_consistency_bundle`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

from servinfo.audit.errors import HeadInvalid, LogTampered
from servinfo.audit.heads import PublicKeys, TreeHead, verify_tree_head
from servinfo.audit.merkle import CompactRange, leaf_hash

__all__ = ["VerifyReport", "verify_chunks", "verify_log"]

#: Entries checked per step; ``entries`` is consumed this many at a time.
_CHUNK = 8192


@dataclass(frozen=True)
class VerifyReport:
    """A log that verified: its size, its root and the heads that vouch for it."""

    entries: int
    root: bytes
    heads: int
    latest_head: TreeHead | None

    @property
    def signed_entries(self) -> int:
        """Entries covered by a signed head."""
        return self.latest_head.tree_size if self.latest_head else 0

    @property
    def unsigned_entries(self) -> int:
        """Entries appended after the latest head: consistent, but not yet signed."""
        return self.entries - self.signed_entries


def verify_log(
    entries: Iterable[tuple[int, bytes, bytes]],
    heads: Sequence[TreeHead],
    public_key_bytes: PublicKeys,
) -> VerifyReport:
    """Verify every stored entry and head in one pass; raise at the first problem.

    ``entries`` yields ``(seq, stored bytes, stored leaf hash)`` ordered by
    ``seq``; ``heads`` are the stored heads in the order they were issued.
    """
    rows = iter(entries)
    return verify_chunks(iter(lambda: list(islice(rows, _CHUNK)), []), heads, public_key_bytes)


def verify_chunks(
    chunks: Iterable[Sequence[tuple[int, bytes, bytes]]],
    heads: Sequence[TreeHead],
    public_key_bytes: PublicKeys,
) -> VerifyReport:
    """:func:`verify_log` over the entries in consecutive chunks of any size.

    The storage streams the driver's own row lists here, so no step runs per row
    outside the hashing comprehension.
    """
    # (1) Every head is signed by the audit key, and the log never shrinks.
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
    frontier = CompactRange()
    pending, vouched = _match_heads(heads, 0, frontier, 0)
    count = 0
    sha256, prefix = hashlib.sha256, b"\x00"
    # The entries are checked a chunk at a time, each step as one comprehension
    # over the chunk, in the order below: a million entries take seconds, not
    # minutes. Problems are still reported in log order: nothing after the
    # first bad entry is used, and heads before it are checked first.
    for chunk in chunks:
        if not chunk:
            continue
        end = count + len(chunk)
        # Columns by comprehension, not ``zip(*chunk)``: that makes an iterator per row,
        # and tens of thousands of live objects set off the cyclic collector's full passes.
        stored = [stored_hash for _, _, stored_hash in chunk]
        # (2) Rows are numbered 0, 1, 2, … with nothing missing or moved.
        seq_ok = [seq for seq, _, _ in chunk] == list(range(count, end))
        # (3) The stored bytes are the ones whose hash is in the tree.
        hash_ok = [sha256(prefix + data).digest() for _, data, _ in chunk] == stored
        bad = len(chunk) if seq_ok and hash_ok else _first_bad(chunk, count)
        # (4) At each head's size, the log's root is the root the head signs.
        done = 0
        while pending < len(heads) and heads[pending].tree_size <= count + bad:
            size = heads[pending].tree_size
            frontier.extend(stored[done : size - count])
            done = size - count
            pending, vouched = _match_heads(heads, pending, frontier, vouched)
        if bad < len(chunk):
            seq = chunk[bad][0]
            if seq != count + bad:
                raise LogTampered(
                    count + bad,
                    f"found entry {seq} in its place: entries were deleted or reordered",
                )
            raise LogTampered(count + bad, "its stored bytes do not hash to its stored leaf hash")
        frontier.extend(stored[done:])
        count = end
    # (5) No head covers entries that are no longer stored.
    if pending < len(heads):
        size = heads[pending].tree_size
        raise LogTampered(
            count,
            f"the log ends after {count} entries but tree head {size} was signed: "
            f"entries {count}..{size - 1} were removed",
        )
    return VerifyReport(count, frontier.root(), len(heads), heads[-1] if heads else None)


def _first_bad(chunk: Sequence[tuple[int, bytes, bytes]], count: int) -> int:
    """The position in ``chunk`` of its first misnumbered or mis-hashed row."""
    for i, (seq, data, stored_hash) in enumerate(chunk):
        if seq != count + i or leaf_hash(data) != stored_hash:
            return i
    return len(chunk)


def _match_heads(
    heads: Sequence[TreeHead], pending: int, frontier: CompactRange, vouched: int
) -> tuple[int, int]:
    """Compare the heads of the frontier's size with its root; return the next pending head.

    ``vouched`` is the size of the last head that matched: entries before it
    are vouched for, so a mismatch names the first entry after it.
    """
    root, size, matched = frontier.root(), frontier.size, False
    while pending < len(heads) and heads[pending].tree_size == size:
        if heads[pending].root_hash != root:
            if size == 0:
                raise LogTampered(0, "tree head 0 does not sign the empty tree: a forged head")
            if matched:
                raise LogTampered(
                    size - 1,
                    f"tree head {size} signs a different root than another head of that size: "
                    "a forged head or a forked log",
                )
            raise LogTampered(
                vouched,
                f"entries {vouched}..{size - 1} do not hash to the root signed in tree head "
                f"{size}: an entry was changed, inserted or removed, or the head was forged",
            )
        matched, vouched, pending = True, size, pending + 1
    return pending, vouched
