"""Merkle tree hashing and proofs of RFC 9162 (Certificate Transparency 2.0), section 2.1.

The tree is RFC 6962's, with SHA-256 and domain-separated hashes::

    MTH({})        = SHA-256()                                   empty tree
    leaf hash      = SHA-256(0x00 || entry bytes)                section 2.1.1
    node hash      = SHA-256(0x01 || left || right)              section 2.1.1
    MTH(D[n])      = node hash(MTH(D[0:k]), MTH(D[k:n]))         k = largest power of 2 < n

Proofs are generated as PATH (2.1.3.1) and PROOF/SUBPROOF (2.1.4.1) define them
and verified with the algorithms of 2.1.3.2 and 2.1.4.2, step for step, so any
other RFC 9162 or RFC 6962 implementation (transparency-dev/merkle, Trillian,
sigstore) computes the same roots and accepts the same proofs.

:class:`CompactRange` is the log's *frontier*: the roots of the perfect
subtrees that make up the tree, one per set bit of its size. Appending a leaf
merges at most log2(n) of them and the root folds them right to left, so the
log grows without ever recomputing the whole tree, and the frontier (at most
64 hashes) is what the database stores with each tree head.

All hashes are 32-byte ``bytes``. The functions that take whole lists of leaf
hashes do not check each hash, to stay fast on millions of leaves; the
verifiers check every length and fail closed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "consistency_proof",
    "consistency_proof_from_frontier",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_leaf_hashes",
    "verify_consistency",
    "verify_inclusion",
]

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

#: The size of every hash in the tree (SHA-256).
HASH_SIZE = 32
#: MTH({}): the root of the empty tree is the hash of the empty string.
EMPTY_ROOT = _sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """The hash of a leaf: SHA-256(0x00 || data)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: SHA-256(0x01 || left || right)."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of section 2.1.1, from the leaf hashes.

    Computed level by level: neighbours are paired and an odd last node moves
    up unchanged. That builds exactly the tree of the RFC's split at the
    largest power of two below n, in n - 1 hashes and without recursion.
    """
    if not hashes:
        return EMPTY_ROOT
    sha256, prefix = _sha256, _NODE_PREFIX
    level = hashes
    while len(level) > 1:
        pairs = iter(level)
        # zip(pairs, pairs) takes two at a time; an odd last node is left out here.
        parents = [sha256(prefix + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        if len(level) & 1:
            parents.append(level[-1])
        level = parents
    return level[0]


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[n]) of section 2.1.3.1: the sibling hashes from the leaf up to the root.

    Costs about n hashes: the siblings are subtrees whose roots are computed here.
    """
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise ValueError(f"index {index} is outside a tree of size {size}")
    # Walk down from the root, taking each split's other half as a sibling; the
    # RFC lists siblings from the leaf up, so the walk's order is reversed.
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            path.append(root_from_leaf_hashes(leaf_hashes[start + k : end]))
            end = start + k
        else:
            path.append(root_from_leaf_hashes(leaf_hashes[start : start + k]))
            start += k
    path.reverse()
    return path


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(old_size, D[n]) of section 2.1.4.1: the tree of ``old_size`` is a prefix of this one.

    Empty when ``old_size`` is 0 or n, which need no proof.
    """
    size = len(leaf_hashes)
    if not 0 <= old_size <= size:
        raise ValueError(f"old size {old_size} is outside 0..{size}")
    if old_size in (0, size):
        return []
    # SUBPROOF(m, D[start:end], whole), unrolled from the top: the siblings are
    # collected root first and reversed at the end, as in inclusion_proof.
    proof: list[bytes] = []
    m, start, end, whole = old_size, 0, size, True
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            proof.append(root_from_leaf_hashes(leaf_hashes[start + k : end]))
            end = start + k
        else:
            proof.append(root_from_leaf_hashes(leaf_hashes[start : start + k]))
            m, start, whole = m - k, start + k, False
    if not whole:
        # SUBPROOF(m, D[m], false) = {MTH(D[m])}: the old tree's last subtree.
        proof.append(root_from_leaf_hashes(leaf_hashes[start:end]))
    proof.reverse()
    return proof


def verify_inclusion(
    index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf at ``index`` is in the tree (section 2.1.3.2)."""
    if not 0 <= index < tree_size or not _are_hashes(leaf_hash, root, *proof):
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of ``old_size`` is a prefix of ``new_size``'s (2.1.4.2)."""
    if not 0 <= old_size <= new_size or not _are_hashes(old_root, new_root, *proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:  # (1)
        return False
    path = [old_root, *proof] if old_size & (old_size - 1) == 0 else list(proof)  # (2)
    fn, sn = old_size - 1, new_size - 1  # (3)
    while fn & 1:  # (4)
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # (5)
    for c in path[1:]:  # (6)
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root  # (7)


class CompactRange:
    """The frontier of a log: roots of the perfect subtrees covering leaves 0..size-1.

    ``hashes[i]`` is the root of a subtree of ``2**level`` leaves, one per set
    bit of ``size`` from the highest (leftmost subtree) to the lowest. Holds at
    most 64 hashes whatever the size. Serialized by :meth:`to_bytes` as one
    version byte (1), the size as 8 bytes big-endian, then the hashes.
    """

    __slots__ = ("_hashes", "_size")

    _FORMAT = 1
    _HEADER = 9

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self._size = size
        self._hashes = list(hashes)
        if size < 0 or len(self._hashes) != size.bit_count():
            raise ValueError(
                f"a compact range of size {size} needs {max(size, 0).bit_count()} hashes, "
                f"got {len(self._hashes)}"
            )
        if not _are_hashes(*self._hashes):
            raise ValueError(f"every hash must be {HASH_SIZE} bytes")

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Iterable[bytes]) -> CompactRange:
        """The frontier of a tree with these leaves."""
        frontier = cls()
        frontier.extend(leaf_hashes)
        return frontier

    @property
    def size(self) -> int:
        """The number of leaves covered."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The perfect subtrees' roots, largest (leftmost) first."""
        return tuple(self._hashes)

    def nodes(self) -> list[tuple[int, bytes]]:
        """``(level, hash)`` for each subtree: it covers ``2**level`` leaves."""
        return list(zip(_levels(self._size), self._hashes, strict=True))

    def append(self, leaf_hash: bytes) -> None:
        """Add one leaf: merge the equal-sized subtrees it completes (one per trailing 1 bit)."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
        hashes, size = self._hashes, self._size
        while size & 1:
            leaf_hash = _sha256(_NODE_PREFIX + hashes.pop() + leaf_hash).digest()
            size >>= 1
        hashes.append(leaf_hash)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append every leaf hash in order: the same tree as :meth:`append` one by one.

        Built a level at a time, so the per-node work is one pass of a list
        comprehension rather than a Python loop per leaf (appends and
        verification feed it thousands of leaves at once). At level L the new
        nodes start at position ``size >> L``: when that is odd, the
        frontier's node of level L is the first one's left sibling and they make
        a parent; the rest pair up, and an odd one out stays in the new frontier.
        """
        nodes = list(leaf_hashes)
        if nodes and set(map(len, nodes)) != {HASH_SIZE}:
            raise ValueError(f"every leaf hash must be {HASH_SIZE} bytes")
        if not nodes:
            return
        sha256, prefix = _sha256, _NODE_PREFIX
        old_size, new_size = self._size, self._size + len(nodes)
        # The old frontier by level; a level's node is consumed when merged.
        old = dict(zip(_levels(old_size), self._hashes, strict=True))
        kept: dict[int, bytes] = {}
        level, start = 0, old_size
        while nodes:
            pairs = iter(nodes)
            parents = []
            if start & 1:
                parents.append(sha256(prefix + old.pop(level) + next(pairs)).digest())
            if (len(nodes) - (start & 1)) & 1:
                kept[level] = nodes[-1]  # zip below drops it: pairs stop at the odd one out
            parents += [sha256(prefix + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
            nodes, level, start = parents, level + 1, start >> 1
        kept.update(old)  # untouched higher levels
        self._hashes = [kept[bit] for bit in _levels(new_size)]
        self._size = new_size

    def root(self) -> bytes:
        """MTH of the covered leaves: the subtree roots folded from the right."""
        hashes = self._hashes
        if not hashes:
            return EMPTY_ROOT
        r = hashes[-1]
        for i in range(len(hashes) - 2, -1, -1):
            r = _sha256(_NODE_PREFIX + hashes[i] + r).digest()
        return r

    def copy(self) -> CompactRange:
        """An independent copy, e.g. to keep the frontier at a tree head."""
        return CompactRange(self._size, self._hashes)

    def to_bytes(self) -> bytes:
        """Version byte 1, size (8 bytes big-endian), then the subtree roots."""
        return bytes([self._FORMAT]) + self._size.to_bytes(8, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> CompactRange:
        """The range :meth:`to_bytes` wrote; ``ValueError`` if ``data`` is not one."""
        if len(data) < cls._HEADER or data[0] != cls._FORMAT:
            raise ValueError("not a serialized compact range (format 1)")
        size = int.from_bytes(data[1 : cls._HEADER], "big")
        body = data[cls._HEADER :]
        if len(body) != HASH_SIZE * size.bit_count():
            raise ValueError(
                f"a compact range of size {size} has {size.bit_count()} hashes, "
                f"got {len(body)} bytes"
            )
        hashes = [body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE)]
        return cls(size, hashes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()[:16]}…)"


def _levels(size: int) -> list[int]:
    """The set bits of ``size``, highest first: the levels of a frontier's subtrees."""
    return [bit for bit in range(size.bit_length() - 1, -1, -1) if size >> bit & 1]


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1): where section 2.1.1 splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    """Shift both right until fn is odd or 0 (step 4's inner shift in 2.1.3.2 and 2.1.4.2)."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def _are_hashes(*values: bytes) -> bool:
    return all(len(v) == HASH_SIZE for v in values)


def consistency_proof_from_frontier(
    old: CompactRange, new_leaf_hashes: Sequence[bytes]
) -> list[bytes]:
    """PROOF(m, D[n]) of section 2.1.4.1 from the old tree's frontier and the new leaves only.

    ``m`` is ``old.size`` and ``n`` is ``m + len(new_leaf_hashes)``: what a log
    that keeps only its compact range needs to show a witness that its new tree
    extends the old one, without reading the old leaves back. The walk is
    :func:`consistency_proof`'s; each subtree it names lies wholly before ``m``
    (then it is one of ``old``'s subtrees, or the fold of a run of them) or wholly
    at or after ``m`` (then it is hashed from the new leaves), because the walk
    only splits at sizes where the old tree's subtrees end.
    """
    m, added = old.size, len(new_leaf_hashes)
    if added and set(map(len, new_leaf_hashes)) != {HASH_SIZE}:
        raise ValueError(f"every leaf hash must be {HASH_SIZE} bytes")
    if m == 0 or added == 0:
        return []
    # Where each frontier subtree starts: subtree i covers [starts[i], starts[i] + 2**level).
    nodes = old.nodes()
    starts: dict[int, int] = {}
    offset = 0
    for i, (level, _) in enumerate(nodes):
        starts[offset] = i
        offset += 1 << level

    def subtree_root(start: int, end: int) -> bytes:
        if start >= m:
            return root_from_leaf_hashes(new_leaf_hashes[start - m : end - m])
        first = starts.get(start)
        if end > m or first is None:
            raise ValueError(f"leaves {start}..{end} are not a run of the frontier of {m}")
        run, covered = [], start
        for level, node in nodes[first:]:
            if covered == end:
                break
            run.append(node)
            covered += 1 << level
        if covered != end:
            raise ValueError(f"leaves {start}..{end} are not a run of the frontier of {m}")
        r = run[-1]
        for node in reversed(run[:-1]):
            r = node_hash(node, r)
        return r

    proof: list[bytes] = []
    rel, start, end, whole = m, 0, m + added, True
    while rel != end - start:
        k = _split(end - start)
        if rel <= k:
            proof.append(subtree_root(start + k, end))
            end = start + k
        else:
            proof.append(subtree_root(start, start + k))
            rel, start, whole = rel - k, start + k, False
    if not whole:
        proof.append(subtree_root(start, end))
    proof.reverse()
    return proof
