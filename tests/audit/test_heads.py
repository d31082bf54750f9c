"""Signed tree heads: the checkpoint bytes, signatures, JSON, and when a head is due."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from servinfo.audit.errors import HeadInvalid
from servinfo.audit.heads import (
    TreeHead,
    checkpoint_body,
    sign_tree_head,
    verify_tree_head,
)
from servinfo.audit.merkle import leaf_hash, root_from_leaf_hashes
from servinfo.crypto import AUDIT_SIGNING, Keyring, LocalMasterKeyWrapper

KEY_ID = "audit_signing:v1"
NOW_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
ROOT = root_from_leaf_hashes([leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])


@pytest.fixture
def head(signing_key: Ed25519PrivateKey) -> TreeHead:
    return sign_tree_head(signing_key, KEY_ID, 3, ROOT, NOW_MS)


def test_the_signed_bytes_are_a_checkpoint_body(head: TreeHead) -> None:
    # This layout is a stable format: every head ever signed depends on it.
    expected = (
        b"servinfo audit log\n3\n" + base64.b64encode(ROOT) + b"\n"
        b"timestamp 1735689600000\nkey audit_signing:v1\n"
    )
    assert head.signed_bytes() == expected == checkpoint_body(3, ROOT, NOW_MS, KEY_ID)


def test_a_head_verifies_with_the_audit_key(head: TreeHead, public_key: bytes) -> None:
    assert verify_tree_head(head, public_key)
    assert verify_tree_head(head, {KEY_ID: public_key})


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 4},
        {"root_hash": bytes(32)},
        {"timestamp": NOW_MS + 1},
        {"key_id": "audit_signing:v2"},
        {"signature": bytes(64)},
    ],
    ids=lambda c: next(iter(c)),
)
def test_changing_any_field_breaks_the_signature(
    head: TreeHead, public_key: bytes, change: dict[str, Any]
) -> None:
    assert not verify_tree_head(dataclasses.replace(head, **change), public_key)


def test_a_head_signed_with_another_key_does_not_verify(
    other_key: Ed25519PrivateKey, public_key: bytes
) -> None:
    forged = sign_tree_head(other_key, KEY_ID, 3, ROOT, NOW_MS)
    assert not verify_tree_head(forged, public_key)


def test_keys_are_chosen_by_key_id_and_unknown_or_malformed_keys_fail(
    head: TreeHead, public_key: bytes, other_key: Ed25519PrivateKey
) -> None:
    other = other_key.public_key().public_bytes_raw()
    assert not verify_tree_head(head, {"audit_signing:v2": public_key})
    assert not verify_tree_head(head, {KEY_ID: other, "audit_signing:v2": public_key})
    assert not verify_tree_head(head, public_key[:31])
    assert not verify_tree_head(head, b"")


def test_heads_sign_with_the_keyrings_audit_key(tmp_path: Path) -> None:
    keyring = Keyring.create(
        tmp_path / "keyring.json",
        LocalMasterKeyWrapper(bytes(range(32))),
        ["eu"],
        now=datetime(2025, 1, 1, tzinfo=UTC),
    )
    key_id = keyring.current(AUDIT_SIGNING).key_id
    head = sign_tree_head(keyring.signing_key(), key_id, 3, ROOT, NOW_MS)
    assert head.key_id == "audit_signing:v1"
    assert verify_tree_head(head, keyring.verify_key_bytes())


def test_json_round_trips(head: TreeHead, public_key: bytes) -> None:
    text = head.to_json()
    assert json.loads(text) == {
        "tree_size": 3,
        "root_hash": base64.b64encode(ROOT).decode(),
        "timestamp": NOW_MS,
        "key_id": KEY_ID,
        "signature": base64.b64encode(head.signature).decode(),
    }
    assert TreeHead.from_json(text) == head
    assert TreeHead.from_json(text.encode()) == head
    assert verify_tree_head(TreeHead.from_json(text), public_key)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tree_size": -1}, "'tree_size' must be a non-negative integer"),
        ({"tree_size": True}, "'tree_size' must be a non-negative integer"),
        ({"root_hash": "not base64!"}, "'root_hash' is not valid base64"),
        ({"root_hash": base64.b64encode(bytes(31)).decode()}, "'root_hash' must be 32 bytes"),
        ({"signature": None}, "'signature' must be a base64 string"),
        ({"key_id": "audit signing"}, "key id must be"),
        ({"key_id": 7}, "'key_id' must be a string"),
        ({"timestamp": 1.5}, "'timestamp' must be a non-negative integer"),
    ],
)
def test_from_json_names_the_bad_field(
    head: TreeHead, change: dict[str, Any], message: str
) -> None:
    obj = {**head.to_dict(), **change}
    with pytest.raises(HeadInvalid, match=message):
        TreeHead.from_json(json.dumps(obj))


@pytest.mark.parametrize("text", ["", "[]", "{", '"head"'])
def test_from_json_refuses_what_is_not_an_object(text: str) -> None:
    with pytest.raises(HeadInvalid, match="malformed tree head"):
        TreeHead.from_json(text)


def test_building_a_head_checks_its_fields(signing_key: Ed25519PrivateKey) -> None:
    with pytest.raises(HeadInvalid, match="root hash must be 32 bytes"):
        sign_tree_head(signing_key, KEY_ID, 3, ROOT[:16], NOW_MS)
    with pytest.raises(HeadInvalid, match="timestamp must be"):
        sign_tree_head(signing_key, KEY_ID, 3, ROOT, -1)
    with pytest.raises(HeadInvalid, match="key id must be"):
        sign_tree_head(signing_key, "audit_signing:v1\nkey x", 3, ROOT, NOW_MS)
    with pytest.raises(HeadInvalid, match="tree size must be in"):
        sign_tree_head(signing_key, KEY_ID, 2**64, ROOT, NOW_MS)
    with pytest.raises(HeadInvalid, match="signature must be 64 bytes"):
        TreeHead(3, ROOT, NOW_MS, KEY_ID, b"")
