"""RFC 9162 hashing and proofs: published vectors, a reference built from the RFC, properties."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servinfo.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS: dict[str, Any] = json.loads(Path(__file__).with_name("vectors.json").read_text())
LEAVES = [bytes.fromhex(h) for h in VECTORS["leaves"]]
ROOTS = [bytes.fromhex(h) for h in VECTORS["roots"]]
LEAF_HASHES = [leaf_hash(data) for data in LEAVES]
#: Leaves for the properties: enough for every shape of tree up to 300.
MANY = [leaf_hash(i.to_bytes(4, "big")) for i in range(300)]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


# -- a reference written straight from the RFC's recursive definitions ----------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 section 2.1.1, over leaf hashes."""
    if not d:
        return _sha256(b"")
    if len(d) == 1:
        return d[0]
    k = _k(len(d))
    return _sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of section 2.1.3.1."""
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of section 2.1.4.1."""
    if m == len(d):
        return [] if whole else [ref_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], whole), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def flip(h: bytes, bit: int = 3) -> bytes:
    return bytes([h[0] ^ (1 << bit)]) + h[1:]


# -- published vectors -------------------------------------------------------------------


def test_hash_primitives_match_the_rfc() -> None:
    assert EMPTY_ROOT == ROOTS[0] == _sha256(b"")
    assert leaf_hash(b"") == ROOTS[1]
    assert node_hash(LEAF_HASHES[0], LEAF_HASHES[1]) == ROOTS[2]


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_roots_match_the_published_vectors(size: int) -> None:
    assert root_from_leaf_hashes(LEAF_HASHES[:size]) == ROOTS[size]
    assert CompactRange.from_leaf_hashes(LEAF_HASHES[:size]).root() == ROOTS[size]
    assert ref_mth(LEAF_HASHES[:size]) == ROOTS[size]


@pytest.mark.parametrize("size", range(len(ROOTS)))
def test_compact_ranges_match_the_published_vectors(size: int) -> None:
    frontier = CompactRange.from_leaf_hashes(LEAF_HASHES[:size])
    assert frontier.size == size
    assert [h.hex() for h in frontier.hashes] == VECTORS["compact_ranges"][size]


@pytest.mark.parametrize(
    "vector", VECTORS["inclusion"], ids=lambda v: f"{v['index']}-{v['tree_size']}"
)
def test_inclusion_proofs_match_the_published_vectors(vector: dict[str, Any]) -> None:
    index, size = vector["index"], vector["tree_size"]
    expected = [bytes.fromhex(h) for h in vector["proof"]]
    assert inclusion_proof(LEAF_HASHES[:size], index) == expected
    assert verify_inclusion(index, size, LEAF_HASHES[index], expected, ROOTS[size])
    for probe in _inclusion_probes(index, size, LEAF_HASHES[index], expected, ROOTS[size]):
        assert not verify_inclusion(*probe)


@pytest.mark.parametrize(
    "vector", VECTORS["consistency"], ids=lambda v: f"{v['old_size']}-{v['new_size']}"
)
def test_consistency_proofs_match_the_published_vectors(vector: dict[str, Any]) -> None:
    old, new = vector["old_size"], vector["new_size"]
    expected = [bytes.fromhex(h) for h in vector["proof"]]
    assert consistency_proof(LEAF_HASHES[:new], old) == expected
    assert verify_consistency(old, new, ROOTS[old], ROOTS[new], expected)
    if expected:
        for probe in _consistency_probes(old, new, ROOTS[old], ROOTS[new], expected):
            assert not verify_consistency(*probe)


# -- properties over random trees --------------------------------------------------------


@given(st.data())
def test_inclusion_proofs_verify_and_every_tampering_fails(data: st.DataObject) -> None:
    size = data.draw(st.integers(1, len(MANY)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    leaves = MANY[:size]
    root = root_from_leaf_hashes(leaves)
    proof = inclusion_proof(leaves, index)
    assert root == ref_mth(leaves)
    assert proof == ref_path(index, leaves)
    assert verify_inclusion(index, size, leaves[index], proof, root)
    for probe in _inclusion_probes(index, size, leaves[index], proof, root):
        assert not verify_inclusion(*probe)


@given(st.data())
def test_consistency_proofs_verify_and_every_tampering_fails(data: st.DataObject) -> None:
    new = data.draw(st.integers(1, len(MANY)), label="new_size")
    old = data.draw(st.integers(1, new), label="old_size")
    leaves = MANY[:new]
    old_root, new_root = root_from_leaf_hashes(leaves[:old]), root_from_leaf_hashes(leaves)
    proof = consistency_proof(leaves, old)
    assert proof == ([] if old == new else ref_subproof(old, leaves, True))
    assert verify_consistency(old, new, old_root, new_root, proof)
    if old < new:
        for probe in _consistency_probes(old, new, old_root, new_root, proof):
            assert not verify_consistency(*probe)
    # A different history of the same sizes is not consistent with this one.
    if old < new:
        forked = [*leaves[: old - 1], SOME_HASH, *leaves[old:]]
        assert not verify_consistency(
            old, new, root_from_leaf_hashes(forked[:old]), new_root, proof
        )


def test_the_frontier_root_is_the_tree_root_at_every_size() -> None:
    frontier = CompactRange()
    for size in range(201):
        assert frontier.size == size
        assert frontier.root() == root_from_leaf_hashes(MANY[:size]) == ref_mth(MANY[:size])
        assert len(frontier.hashes) == size.bit_count()
        assert sum(1 << level for level, _ in frontier.nodes()) == size
        assert CompactRange.from_bytes(frontier.to_bytes()) == frontier
        if size < len(MANY):
            frontier.append(MANY[size])


def test_a_restored_frontier_keeps_growing_like_the_original() -> None:
    original = CompactRange.from_leaf_hashes(MANY[:77])
    restored = CompactRange.from_bytes(original.to_bytes())
    copied = original.copy()
    for h in MANY[77:150]:
        original.append(h)
    restored.extend(MANY[77:150])
    assert restored == original
    assert restored.root() == root_from_leaf_hashes(MANY[:150])
    assert copied.size == 77  # the copy did not move with the original


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02" + (0).to_bytes(8, "big"),  # unknown format
        b"\x01" + (3).to_bytes(8, "big") + bytes(32),  # size 3 needs two hashes
        b"\x01" + (1).to_bytes(8, "big") + bytes(31),
    ],
)
def test_from_bytes_refuses_what_is_not_a_compact_range(data: bytes) -> None:
    with pytest.raises(ValueError, match="compact range"):
        CompactRange.from_bytes(data)


def test_compact_range_refuses_bad_hashes() -> None:
    with pytest.raises(ValueError, match="needs 2 hashes"):
        CompactRange(3, [bytes(32)])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange(1, [bytes(31)])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange().append(b"short")


def test_proof_generation_refuses_out_of_range_sizes() -> None:
    with pytest.raises(ValueError, match="outside a tree of size 8"):
        inclusion_proof(LEAF_HASHES, 8)
    with pytest.raises(ValueError, match=r"outside 0\.\.8"):
        consistency_proof(LEAF_HASHES, 9)
    assert consistency_proof(LEAF_HASHES, 0) == []


def test_degenerate_proofs() -> None:
    some, empty = SOME_HASH, EMPTY_ROOT
    # Inclusion in an empty tree, or beyond the tree, never verifies.
    for index, size in [(0, 0), (1, 0), (2, 1)]:
        assert not verify_inclusion(index, size, some, [], empty)
    # A one-leaf tree's root is its leaf hash, with an empty proof.
    assert verify_inclusion(0, 1, some, [], some)
    assert not verify_inclusion(0, 1, some, [], empty)
    # Equal sizes need equal roots and no proof; an empty old tree has the empty root.
    assert verify_consistency(5, 5, some, some, [])
    assert not verify_consistency(5, 5, some, empty, [])
    assert not verify_consistency(5, 5, some, some, [empty])
    assert verify_consistency(0, 5, empty, some, [])
    assert not verify_consistency(0, 5, some, some, [])
    assert not verify_consistency(0, 5, empty, some, [empty])
    # The log never shrinks, and a real step needs a proof.
    assert not verify_consistency(2, 1, some, some, [])
    assert not verify_consistency(1, 2, some, empty, [])


def test_verifiers_refuse_hashes_of_the_wrong_length() -> None:
    proof = inclusion_proof(LEAF_HASHES, 5)
    assert not verify_inclusion(5, 8, LEAF_HASHES[5], [*proof[:-1], proof[-1] + b"\x00"], ROOTS[8])
    assert not verify_inclusion(5, 8, LEAF_HASHES[5][:31], proof, ROOTS[8])
    assert not verify_consistency(8, 8, ROOTS[8][:31], ROOTS[8][:31], [])


# -- tampering probes, after transparency-dev/merkle's corruptInclusionProof -----------------


def _inclusion_probes(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> list[tuple[int, int, bytes, list[bytes], bytes]]:
    # No probe changes the size by one: a proof does not fix the tree size (the
    # path of leaf 0 is the same in trees of 7 and 8 leaves). The signed head does.
    probes = [
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size, flip(leaf), proof, root),
        (index, size, leaf, proof, flip(root)),
        (index, size, leaf, proof, EMPTY_ROOT),
        (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [root, *proof], root),
        (index, size, leaf, [*proof, SOME_HASH], root),
    ]
    if index > 0:
        probes.append((index - 1, size, leaf, proof, root))
    if size > 1:
        probes.append((index, size // 2, leaf, proof, root))
    if proof:
        probes.append((index, size, leaf, proof[:-1], root))
        probes.append((index, size, leaf, proof[1:], root))
    if len(proof) > 1:
        probes.append((index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root))
    for i in range(len(proof)):
        probes.append((index, size, leaf, [*proof[:i], flip(proof[i]), *proof[i + 1 :]], root))
    return [p for p in probes if p[:2] != (index, size) or p[2:] != (leaf, proof, root)]


def _consistency_probes(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> list[tuple[int, int, bytes, bytes, list[bytes]]]:
    # As for inclusion, new_size +- 1 can describe the same proof; the heads fix the sizes.
    probes = [
        (old - 1, new, old_root, new_root, proof),
        (old + 1, new, old_root, new_root, proof),
        (old ^ 2, new, old_root, new_root, proof),
        (old, new * 2, old_root, new_root, proof),
        (old, new // 2, old_root, new_root, proof),
        (old, new, flip(old_root), new_root, proof),
        (old, new, old_root, flip(new_root), proof),
        (old, new, new_root, old_root, proof),
        (old, new, old_root, new_root, []),
        (old, new, old_root, new_root, [*proof, old_root]),
        (old, new, old_root, new_root, [*proof, new_root]),
        (old, new, old_root, new_root, [old_root, *proof]),
        (old, new, old_root, new_root, [new_root, *proof]),
        (old, new, old_root, new_root, [proof[0], *proof]),
        (old, new, old_root, new_root, proof[:-1]),
    ]
    for i in range(len(proof)):
        probes.append(
            (old, new, old_root, new_root, [*proof[:i], flip(proof[i], 4), *proof[i + 1 :]])
        )
    original = (old, new, old_root, new_root, proof)
    return [p for p in probes if p != original]


@pytest.mark.parametrize("start", [0, 1, 2, 3, 5, 8, 13, 64, 77, 100])
@pytest.mark.parametrize("count", [0, 1, 2, 3, 7, 16, 31, 50])
def test_extend_builds_the_tree_append_builds(start: int, count: int) -> None:
    one_by_one = CompactRange.from_leaf_hashes([])
    for h in MANY[: start + count]:
        one_by_one.append(h)
    extended = CompactRange.from_leaf_hashes([])
    for h in MANY[:start]:
        extended.append(h)
    extended.extend(MANY[start : start + count])
    assert extended == one_by_one
    assert extended.root() == root_from_leaf_hashes(MANY[: start + count])


def test_extend_refuses_a_short_hash_and_changes_nothing() -> None:
    frontier = CompactRange.from_leaf_hashes(MANY[:5])
    with pytest.raises(ValueError, match="32 bytes"):
        frontier.extend([MANY[5], b"short"])
    assert frontier == CompactRange.from_leaf_hashes(MANY[:5])
