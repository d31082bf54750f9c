"""What this process appended since the signer's last checkpoint (private to the log).

A checkpoint covers every entry since the previous one. Reading their leaf hashes
back from the database and hashing the tree's nodes again cost 11–14 % of the
append, so :class:`RecentAppends` keeps, for this process's latest *run* of
appends, what the appends computed anyway:

* the leaf hashes, in seq order;
* the frontier at the run's start and at the end of each of its batches.

A run is a sequence of batches in which each batch started from exactly the
frontier the one before ended on (the same size and the same subtree roots, as
read inside its transaction): each frontier of a run is its first one extended,
by this process, with the run's leaf hashes up to there. So when the run holds a
frontier equal to the signer's last checkpoint and one equal to the stored
frontier being signed, the second is the signer's own tree extended with the
leaves in between — the tree :meth:`~servinfo.audit.signer.CheckpointSigner.sign`
would compute from them, computed by the same process with the same code —
and the signer takes it instead of hashing the nodes again.

Otherwise the signer hashes the tree from the leaf hashes held here, when they
cover everything since its last checkpoint, or else from those stored. The
leaf hashes are kept across batches whose seqs follow on; a batch that starts
from another frontier than the one this process left (the stored state was
rewritten in between) starts a new chain of frontiers, so no extension spans
it and the signer, hashing the leaves it holds, refuses the stored tree.
"""

from __future__ import annotations

import threading

from servinfo.audit.merkle import CompactRange

__all__ = ["RecentAppends"]

#: Frontiers kept at most per run (each is up to 64 hashes); beyond it only the chain's
#: first and latest. Those in between serve only a checkpoint signed while another
#: thread of this process appends.
_MAX_FRONTIERS = 1024


class RecentAppends:
    """The leaf hashes and frontiers of this process's latest run of appends (seqs that
    follow on, each batch's after the one before).

    ``limit``: the leaf hashes kept at most (a process that appends far more
    than one checkpoint's worth without signing starts over).
    """

    __slots__ = ("_first", "_frontiers", "_leaves", "_limit", "_lock")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._first = 0
        self._leaves: list[bytes] = []
        #: The frontier at the run's start and at each batch's end, by size.
        self._frontiers: dict[int, CompactRange] = {}

    def add(self, before: CompactRange, leaves: list[bytes], after: CompactRange) -> None:
        """A committed batch: the frontier it started from, its leaf hashes, where it ended.

        ``after`` must be ``before`` extended with ``leaves``; neither is kept by reference.
        """
        with self._lock:
            if before.size == self._first + len(self._leaves) and len(self._leaves) < self._limit:
                self._leaves.extend(leaves)
                if self._frontiers.get(before.size) != before:
                    # The stored frontier is not the one this process left: no extension
                    # spans it. The leaves stay, so the signer hashes its own tree from
                    # them and refuses the stored one.
                    self._frontiers = {before.size: before.copy()}
            else:  # another process appended in between (or too many await a checkpoint)
                self._first, self._leaves = before.size, list(leaves)
                self._frontiers = {before.size: before.copy()}
            frontiers = self._frontiers
            if len(frontiers) > _MAX_FRONTIERS:  # many small batches: keep the chain's first
                start = min(frontiers)
                frontiers = self._frontiers = {start: frontiers[start]}
            frontiers[after.size] = after.copy()

    def extended(self, last: CompactRange, stored: CompactRange) -> CompactRange | None:
        """``stored``, if this run extended a frontier equal to ``last`` to it; else None."""
        with self._lock:
            if self._frontiers.get(last.size) != last:
                return None
            found = self._frontiers.get(stored.size)
            return found.copy() if found is not None and found == stored else None

    def leaves(self, start: int, end: int) -> list[bytes] | None:
        """The leaf hashes of ``start <= seq < end``, if this run holds them all."""
        with self._lock:
            first = self._first
            if first <= start and end <= first + len(self._leaves):
                return self._leaves[start - first : end - first]
        return None

    def signed(self, size: int) -> None:
        """A checkpoint of ``size`` was signed: forget what it covers."""
        with self._lock:
            first, leaves = self._first, self._leaves
            if size <= first:
                return
            if size > first + len(leaves):  # it covers more than this run: start over
                self._first, self._leaves, self._frontiers = size, [], {}
                return
            self._first, self._leaves = size, leaves[size - first :]
            self._frontiers = {n: f for n, f in self._frontiers.items() if n >= size}
