"""Offline bundles: built from the log, carried as JSON, checked with only the public key."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from servinfo.audit.entries import Action, AuditEntry
from servinfo.audit.errors import AuditError, ProofInvalid
from servinfo.audit.heads import TreeHead, sign_tree_head
from servinfo.audit.merkle import leaf_hash, root_from_leaf_hashes
from servinfo.audit.proofs import (
    ConsistencyBundle,
    InclusionBundle,
    build_consistency_bundle,
    build_inclusion_bundle,
    verify_consistency_bundle,
    verify_inclusion_bundle,
)

KEY_ID = "audit_signing:v1"
NOW_MS = 1_735_689_600_000
ENTRIES = [
    AuditEntry(
        seq=i, at=NOW_MS + i, actor="p_7", action=Action.READ, record_ids=(f"r{i}",)
    ).canonical_bytes()
    for i in range(40)
]
LEAVES = [leaf_hash(data) for data in ENTRIES]


def head_at(key: Ed25519PrivateKey, size: int, *, root: bytes | None = None) -> TreeHead:
    root = root_from_leaf_hashes(LEAVES[:size]) if root is None else root
    return sign_tree_head(key, KEY_ID, size, root, NOW_MS + size)


@pytest.fixture
def head(signing_key: Ed25519PrivateKey) -> TreeHead:
    return head_at(signing_key, 37)


def test_an_auditor_verifies_an_inclusion_bundle_with_only_the_public_key(
    head: TreeHead, public_key: bytes
) -> None:
    text = build_inclusion_bundle(LEAVES, 17, head, ENTRIES[17]).to_json()
    # What the auditor receives is a file; what they hold is the raw public key.
    bundle = InclusionBundle.from_json(text)
    verify_inclusion_bundle(bundle, public_key)
    assert bundle.entry == ENTRIES[17]
    assert AuditEntry.from_canonical(bundle.entry).record_ids == ("r17",)
    # Without the entry's bytes, the leaf hash alone is proven.
    verify_inclusion_bundle(dataclasses.replace(bundle, entry=None), public_key)


@pytest.mark.parametrize("index", [0, 1, 17, 31, 32, 36])
def test_bundles_round_trip_through_json(head: TreeHead, public_key: bytes, index: int) -> None:
    bundle = build_inclusion_bundle(LEAVES, index, head, ENTRIES[index])
    assert InclusionBundle.from_json(bundle.to_json()) == bundle
    verify_inclusion_bundle(InclusionBundle.from_json(bundle.to_json()), public_key)


def test_inclusion_bundle_failures_name_the_step(
    head: TreeHead, public_key: bytes, other_key: Ed25519PrivateKey
) -> None:
    bundle = build_inclusion_bundle(LEAVES, 17, head, ENTRIES[17])
    forged_head = head_at(other_key, 37)
    cases = [
        (
            dataclasses.replace(bundle, head=forged_head),
            "signature on tree head 37 does not verify",
        ),
        (
            dataclasses.replace(bundle, entry=ENTRIES[18]),
            "entry 17: its bytes do not hash to the bundle's leaf hash",
        ),
        (dataclasses.replace(bundle, index=40), "entry 40 is outside tree head 37"),
        (
            dataclasses.replace(bundle, index=16),
            "inclusion proof for entry 16 does not lead to the signed root of tree head 37",
        ),
        (
            dataclasses.replace(bundle, proof=(*bundle.proof[:-1], bytes(32))),
            "inclusion proof for entry 17 does not lead to the signed root",
        ),
        (
            dataclasses.replace(bundle, entry=ENTRIES[18], leaf_hash=LEAVES[18]),
            "inclusion proof for entry 17 does not lead",
        ),
    ]
    for bad, message in cases:
        with pytest.raises(ProofInvalid, match=message):
            verify_inclusion_bundle(bad, public_key)


def test_an_auditor_verifies_that_the_log_only_grew(
    signing_key: Ed25519PrivateKey, public_key: bytes
) -> None:
    old, new = head_at(signing_key, 13), head_at(signing_key, 40)
    bundle = ConsistencyBundle.from_json(build_consistency_bundle(LEAVES, old, new).to_json())
    assert bundle.old_head == old
    verify_consistency_bundle(bundle, public_key)
    verify_consistency_bundle(build_consistency_bundle(LEAVES, new, new), public_key)


def test_a_rewritten_log_fails_the_consistency_check(
    signing_key: Ed25519PrivateKey, public_key: bytes, other_key: Ed25519PrivateKey
) -> None:
    old, new = head_at(signing_key, 13), head_at(signing_key, 40)
    bundle = build_consistency_bundle(LEAVES, old, new)
    # The server signs a head over a history in which entry 5 was changed.
    rewritten = [*LEAVES[:5], leaf_hash(b"rewritten"), *LEAVES[6:]]
    forked = sign_tree_head(signing_key, KEY_ID, 40, root_from_leaf_hashes(rewritten), NOW_MS)
    with pytest.raises(ProofInvalid, match="consistency proof from tree head 13 to tree head 40"):
        verify_consistency_bundle(dataclasses.replace(bundle, new_head=forked), public_key)
    with pytest.raises(ProofInvalid, match="signature on tree head 40 does not verify"):
        verify_consistency_bundle(
            dataclasses.replace(bundle, new_head=head_at(other_key, 40)), public_key
        )
    with pytest.raises(ProofInvalid, match="tree head 13 is smaller than the earlier tree head 40"):
        verify_consistency_bundle(ConsistencyBundle(new, old, bundle.proof), public_key)


def test_building_refuses_what_the_log_does_not_support(
    signing_key: Ed25519PrivateKey, head: TreeHead
) -> None:
    with pytest.raises(AuditError, match="entry 37 is not covered by tree head 37"):
        build_inclusion_bundle(LEAVES, 37, head)
    with pytest.raises(AuditError, match="covers more than the 20 entries"):
        build_inclusion_bundle(LEAVES[:20], 3, head)
    with pytest.raises(AuditError, match="stored bytes do not hash"):
        build_inclusion_bundle(LEAVES, 3, head, ENTRIES[4])
    wrong = head_at(signing_key, 37, root=bytes(32))
    with pytest.raises(AuditError, match="does not match tree head 37"):
        build_inclusion_bundle(LEAVES, 3, wrong)
    with pytest.raises(AuditError, match="tree head 37 is larger than tree head 13"):
        build_consistency_bundle(LEAVES, head, head_at(signing_key, 13))
    with pytest.raises(AuditError, match="do not match the log"):
        build_consistency_bundle(LEAVES, head_at(signing_key, 13), wrong)


def test_malformed_bundles_name_the_field(head: TreeHead) -> None:
    good = build_inclusion_bundle(LEAVES, 3, head).to_dict()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"format": "something-else"}, "format is 'something-else'"),
        ({"version": 2}, "version is 2"),
        ({"version": True}, "version is True"),
        ({"index": "3"}, "'index' must be a non-negative integer"),
        ({"proof": "AAAA"}, "'proof' must be a list"),
        ({"proof": ["AAAA"]}, r"proof\[0\] must be 32 bytes"),
        ({"entry": 5}, "'entry' must be a base64 string"),
        ({"head": None}, "expected a JSON object"),
        ({"head": {**good["head"], "signature": "AA=="}}, "'head': .*'signature' must be 64 bytes"),
    ]
    for change, message in cases:
        with pytest.raises(ProofInvalid, match=message):
            InclusionBundle.from_json(json.dumps({**good, **change}))
    with pytest.raises(ProofInvalid, match="not JSON"):
        ConsistencyBundle.from_json("not json")
