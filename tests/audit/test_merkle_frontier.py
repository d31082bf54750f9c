"""Consistency proofs from a frontier: the same proofs as from the whole tree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from servinfo.audit.merkle import (
    CompactRange,
    consistency_proof,
    consistency_proof_from_frontier,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
)

LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(300)]


def from_frontier(old_size: int, new_size: int) -> list[bytes]:
    frontier = CompactRange.from_leaf_hashes(LEAVES[:old_size])
    return consistency_proof_from_frontier(frontier, LEAVES[old_size:new_size])


@pytest.mark.parametrize("new_size", range(1, 40))
def test_every_old_size_up_to_40_leaves(new_size: int) -> None:
    for old_size in range(new_size + 1):
        expected = consistency_proof(LEAVES[:new_size], old_size)
        assert from_frontier(old_size, new_size) == expected, (old_size, new_size)


@settings(max_examples=300)
@given(st.integers(0, 300).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_the_same_proof_as_from_the_whole_tree(sizes: tuple[int, int]) -> None:
    old_size, new_size = sizes
    proof = from_frontier(old_size, new_size)
    assert proof == consistency_proof(LEAVES[:new_size], old_size)
    old_root = root_from_leaf_hashes(LEAVES[:old_size])
    new_root = root_from_leaf_hashes(LEAVES[:new_size])
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)


def test_no_proof_when_nothing_is_added_or_the_old_tree_is_empty() -> None:
    assert consistency_proof_from_frontier(CompactRange(), LEAVES[:5]) == []
    assert consistency_proof_from_frontier(CompactRange.from_leaf_hashes(LEAVES[:5]), []) == []


def test_a_proof_for_a_large_old_tree_needs_only_its_frontier() -> None:
    # 2**40 - 1 old leaves: only the 40 frontier hashes exist, no leaf could be re-read.
    size = 2**40 - 1
    frontier = CompactRange(size, [leaf_hash(bytes([level])) for level in range(40)])
    added = LEAVES[:3]
    proof = consistency_proof_from_frontier(frontier, added)
    grown = frontier.copy()
    grown.extend(added)
    assert verify_consistency(size, size + 3, frontier.root(), grown.root(), proof)


def test_leaf_hashes_of_the_wrong_size_are_refused() -> None:
    frontier = CompactRange.from_leaf_hashes(LEAVES[:5])
    with pytest.raises(ValueError, match="32 bytes"):
        consistency_proof_from_frontier(frontier, [LEAVES[5], LEAVES[6][:31]])
