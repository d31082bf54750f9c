"""Witness cosignatures: Ed25519 cosignature/v1 and ML-DSA-44 subtree/v1."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.cosignature import (
    ED25519_COSIGNATURE_SIZE,
    MAX_TIMESTAMP,
    MLDSA44_COSIGNATURE_SIZE,
    MLDSA44_PUBLIC_KEY_SIZE,
    CosignatureVerifier,
    Ed25519CosignatureSigner,
    Ed25519CosignatureVerifier,
    MLDSA44CosignatureSigner,
    MLDSA44CosignatureVerifier,
    ed25519_cosigned_message,
    mldsa44_cosigned_message,
)
from servinfo.audit.errors import CheckpointInvalid, NoteInvalid
from servinfo.audit.merkle import leaf_hash, root_from_leaf_hashes
from servinfo.audit.note import (
    SIG_COSIGNATURE_ED25519,
    SIG_COSIGNATURE_MLDSA44,
    Ed25519NoteSigner,
    Note,
    NoteSigner,
    NoteVerifier,
    open_note,
    parse_vkey,
    sign_note,
)

ROOT = root_from_leaf_hashes([leaf_hash(bytes([i])) for i in range(5)])
CHECKPOINT = Checkpoint("example.com/log", 5, ROOT)
WHEN = 1_735_689_600  # 2025-01-01T00:00:00Z
VECTORS = json.loads((Path(__file__).parent / "vectors" / "signed_note_reference.json").read_text())


def ed25519_key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


@pytest.fixture(scope="module")
def mldsa_key() -> MLDSA44PrivateKey:
    return MLDSA44PrivateKey.from_seed_bytes(bytes(range(32)))


def log_signed(checkpoint: Checkpoint = CHECKPOINT) -> bytes:
    return sign_note(checkpoint.body(), [Ed25519NoteSigner("example.com/log", ed25519_key(1))])


def with_line(note_bytes: bytes, line: str) -> bytes:
    return note_bytes + line.encode()


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1 :]


# -- Ed25519 cosignature/v1 -----------------------------------------------------------


def test_the_ed25519_message_is_the_specs() -> None:
    body = b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert ed25519_cosigned_message(1679315147, body) == b"cosignature/v1\ntime 1679315147\n" + body


def test_an_ed25519_cosignature_verifies_in_a_note_with_its_time() -> None:
    signer = Ed25519CosignatureSigner("witness.example/w1", ed25519_key(2))
    line = signer.cosign(CHECKPOINT, WHEN)
    assert len(line.signature) == ED25519_COSIGNATURE_SIZE
    assert line.signature[:8] == WHEN.to_bytes(8, "big")
    verifier = parse_vkey(signer.vkey())
    assert isinstance(verifier, Ed25519CosignatureVerifier)
    assert isinstance(verifier, CosignatureVerifier)
    _, verified = open_note(with_line(log_signed(), line.line()), [verifier])
    assert verified == [line]
    assert verifier.timestamp_of(CHECKPOINT.body(), line.signature) == WHEN


def test_the_ed25519_key_id_uses_type_0x04() -> None:
    key = ed25519_key(2)
    raw = key.public_key().public_bytes_raw()
    signer = Ed25519CosignatureSigner("w", key)
    expected = hashlib.sha256(b"w\n" + bytes([SIG_COSIGNATURE_ED25519]) + raw).digest()[:4]
    assert signer.key_id == expected
    assert signer.key_id != Ed25519NoteSigner("w", key).key_id
    assert base64.b64decode(signer.vkey().split("+", 2)[2])[0] == SIG_COSIGNATURE_ED25519


def test_a_changed_byte_fails_an_ed25519_cosignature() -> None:
    signer = Ed25519CosignatureSigner("w", ed25519_key(2))
    signature = signer.cosign(CHECKPOINT, WHEN).signature
    verifier = signer.verifier()
    body = CHECKPOINT.body()
    assert verifier.verify(body, signature)
    for index in (0, 7, 8, len(signature) - 1):
        assert not verifier.verify(body, flip(signature, index))
    assert not verifier.verify(Checkpoint("example.com/log", 6, ROOT).body(), signature)
    assert not verifier.verify(body, signature[:-1])
    with_extension = Checkpoint("example.com/log", 5, ROOT, ("ext",)).body()
    assert not verifier.verify(with_extension, signature)  # extension lines are signed


def test_an_ed25519_cosignature_is_not_a_plain_signature_nor_over_a_non_checkpoint() -> None:
    key = ed25519_key(2)
    plain = Ed25519NoteSigner("w", key).sign(CHECKPOINT.body())
    assert not Ed25519CosignatureSigner("w", key).verifier().verify(CHECKPOINT.body(), plain)
    cosigner = Ed25519CosignatureSigner("w", key)
    text = b"not\na checkpoint\n"
    forged = WHEN.to_bytes(8, "big") + key.sign(ed25519_cosigned_message(WHEN, text))
    assert not cosigner.verifier().verify(text, forged)


def test_a_timestamp_past_2_63_is_refused() -> None:
    key = ed25519_key(2)
    verifier = Ed25519CosignatureSigner("w", key).verifier()
    too_late = MAX_TIMESTAMP + 1
    message = b"cosignature/v1\ntime %d\n" % too_late + CHECKPOINT.body()
    signature = too_late.to_bytes(8, "big") + key.sign(message)
    assert verifier.timestamp_of(CHECKPOINT.body(), signature) is None
    with pytest.raises(CheckpointInvalid, match="timestamp"):
        Ed25519CosignatureSigner("w", key).cosign(CHECKPOINT, too_late)


def test_the_note_signer_interface_reads_the_clock() -> None:
    signer = Ed25519CosignatureSigner("w", ed25519_key(2), clock=lambda: WHEN + 7)
    assert isinstance(signer, NoteSigner)
    data = sign_note(CHECKPOINT.body(), [signer])
    note = Note.parse(data)
    assert signer.verifier().timestamp_of(note.text, note.signatures[0].signature) == WHEN + 7
    with pytest.raises(CheckpointInvalid):
        sign_note(b"not a checkpoint\n", [signer])


def test_the_spec_cosignature_timestamp_is_read_from_the_signature() -> None:
    example = VECTORS["spec_cosigned_checkpoint"]
    note = Note.parse(example["note"].encode())
    witness = note.signatures[1]
    assert witness.name == "witness.example.com/w1"
    assert len(witness.signature) == ED25519_COSIGNATURE_SIZE
    assert int.from_bytes(witness.signature[:8], "big") == example["witness_timestamp"]


# -- ML-DSA-44 subtree/v1 -------------------------------------------------------------


def test_the_mldsa_message_is_the_specs_struct() -> None:
    message = mldsa44_cosigned_message("w", WHEN, "example.com/log", 0, 5, ROOT)
    expected = (
        b"subtree/v1\n\x00"
        + b"\x01w"
        + WHEN.to_bytes(8, "big")
        + b"\x0fexample.com/log"
        + (0).to_bytes(8, "big")
        + (5).to_bytes(8, "big")
        + ROOT
    )
    assert message == expected


def test_an_mldsa_cosignature_round_trips(mldsa_key: MLDSA44PrivateKey) -> None:
    signer = MLDSA44CosignatureSigner("witness.example/pq", mldsa_key)
    line = signer.cosign(CHECKPOINT, WHEN)
    assert len(line.signature) == MLDSA44_COSIGNATURE_SIZE == 8 + 2420
    verifier = parse_vkey(signer.vkey())
    assert isinstance(verifier, MLDSA44CosignatureVerifier)
    assert isinstance(verifier, CosignatureVerifier)
    _, verified = open_note(with_line(log_signed(), line.line()), [verifier])
    assert verified == [line]
    assert verifier.timestamp_of(CHECKPOINT.body(), line.signature) == WHEN


def test_the_mldsa_key_id_and_vkey_sizes(mldsa_key: MLDSA44PrivateKey) -> None:
    signer = MLDSA44CosignatureSigner("w", mldsa_key)
    raw = mldsa_key.public_key().public_bytes_raw()
    assert len(raw) == MLDSA44_PUBLIC_KEY_SIZE
    type_and_key = bytes([SIG_COSIGNATURE_MLDSA44]) + raw
    assert signer.key_id == hashlib.sha256(b"w\n" + type_and_key).digest()[:4]
    name, hex_id, encoded = signer.vkey().split("+", 2)
    assert (name, hex_id) == ("w", signer.key_id.hex())
    assert base64.b64decode(encoded) == type_and_key


def test_a_changed_byte_fails_an_mldsa_cosignature(mldsa_key: MLDSA44PrivateKey) -> None:
    signer = MLDSA44CosignatureSigner("w", mldsa_key)
    signature = signer.cosign(CHECKPOINT, WHEN).signature
    verifier = signer.verifier()
    body = CHECKPOINT.body()
    for index in (0, 7, 8, 500, len(signature) - 1):
        assert not verifier.verify(body, flip(signature, index))
    for other in (
        Checkpoint("example.com/log", 6, ROOT),
        Checkpoint("example.com/lof", 5, ROOT),
        Checkpoint("example.com/log", 5, flip(ROOT, 31)),
    ):
        assert not verifier.verify(other.body(), signature)
    assert not MLDSA44CosignatureSigner("v", mldsa_key).verifier().verify(body, signature)
    # subtree/v1 does not sign extension lines: the same cosignature covers them.
    assert verifier.verify(Checkpoint("example.com/log", 5, ROOT, ("ext",)).body(), signature)


def test_subtrees_are_signed_with_timestamp_zero(mldsa_key: MLDSA44PrivateKey) -> None:
    signer = MLDSA44CosignatureSigner("w", mldsa_key)
    signature = signer.sign_subtree("example.com/log", 4, 8, ROOT)
    assert signature[:8] == bytes(8)
    assert signer.verifier().verify_subtree("example.com/log", 4, 8, ROOT, signature)
    assert not signer.verifier().verify_subtree("example.com/log", 4, 9, ROOT, signature)
    with pytest.raises(CheckpointInvalid, match="timestamp 0"):
        signer.sign_subtree("example.com/log", 4, 8, ROOT, WHEN)
    with pytest.raises(CheckpointInvalid, match="range"):
        signer.sign_subtree("example.com/log", 8, 4, ROOT)


def test_names_and_origins_longer_than_255_bytes_are_refused(
    mldsa_key: MLDSA44PrivateKey,
) -> None:
    with pytest.raises(NoteInvalid, match="255"):
        MLDSA44CosignatureSigner("w" * 256, mldsa_key)
    signer = MLDSA44CosignatureSigner("w", mldsa_key)
    long_origin = Checkpoint("o" * 256, 5, ROOT)
    with pytest.raises(CheckpointInvalid, match="255"):
        signer.cosign(long_origin, WHEN)
    assert not signer.verifier().verify(long_origin.body(), bytes(MLDSA44_COSIGNATURE_SIZE))


def test_an_mldsa_signer_reads_the_clock(mldsa_key: MLDSA44PrivateKey) -> None:
    signer = MLDSA44CosignatureSigner("w", mldsa_key, clock=lambda: WHEN + 3)
    signature = signer.sign(CHECKPOINT.body())
    assert signer.verifier().timestamp_of(CHECKPOINT.body(), signature) == WHEN + 3


def test_wrong_key_sizes_are_refused() -> None:
    with pytest.raises(NoteInvalid, match="1312"):
        MLDSA44CosignatureVerifier("w", bytes(32))
    with pytest.raises(NoteInvalid, match="32"):
        Ed25519CosignatureVerifier("w", bytes(1312))


def test_every_verifier_is_a_note_verifier(mldsa_key: MLDSA44PrivateKey) -> None:
    for verifier in (
        Ed25519CosignatureSigner("w", ed25519_key(2)).verifier(),
        MLDSA44CosignatureSigner("w", mldsa_key).verifier(),
    ):
        assert isinstance(verifier, NoteVerifier)
        assert isinstance(verifier, CosignatureVerifier)


# -- vectors from the Go implementation (tests/audit/vectors/README.md) ---------------

GO_VECTORS = json.loads((Path(__file__).parent / "vectors" / "go_independent.json").read_text())


def go_cosigners() -> list[Ed25519CosignatureSigner]:
    return [
        Ed25519CosignatureSigner(
            w["name"], Ed25519PrivateKey.from_private_bytes(bytes.fromhex(w["seed_hex"]))
        )
        for w in GO_VECTORS["witnesses"]
    ]


def test_go_witness_vkeys_are_ours() -> None:
    for signer, witness in zip(go_cosigners(), GO_VECTORS["witnesses"], strict=True):
        assert signer.vkey() == witness["vkey"]
        assert isinstance(parse_vkey(witness["vkey"]), Ed25519CosignatureVerifier)


@pytest.mark.parametrize("vector", GO_VECTORS["checkpoints"], ids=lambda v: str(v["size"]))
def test_go_cosignatures_verify_and_python_makes_the_same_lines(vector: dict[str, Any]) -> None:
    verifiers = [parse_vkey(w["vkey"]) for w in GO_VECTORS["witnesses"]]
    note_bytes = vector["note"].encode()
    note, verified = open_note(note_bytes, verifiers)
    assert [s.name for s in verified] == [w["name"] for w in GO_VECTORS["witnesses"]]
    checkpoint = Checkpoint.from_body(note.text)
    for signer, signature in zip(go_cosigners(), verified, strict=True):
        when = vector["cosignature_timestamps"][signer.name]
        assert signer.verifier().timestamp_of(note.text, signature.signature) == when
        assert signer.cosign(checkpoint, when) == signature
        assert signature.line() in note_bytes.decode()


PQ_VERIFIER = MLDSA44CosignatureSigner(
    "w", MLDSA44PrivateKey.from_seed_bytes(bytes(range(32)))
).verifier()
ED_VERIFIER = Ed25519CosignatureSigner("w", ed25519_key(2)).verifier()


@given(
    st.one_of(st.binary(max_size=200), st.just(CHECKPOINT.body())),
    st.one_of(
        st.binary(max_size=100),
        st.binary(min_size=ED25519_COSIGNATURE_SIZE, max_size=ED25519_COSIGNATURE_SIZE),
        st.binary(min_size=MLDSA44_COSIGNATURE_SIZE, max_size=MLDSA44_COSIGNATURE_SIZE),
    ),
)
def test_verifiers_answer_false_to_anything_forged(text: bytes, signature: bytes) -> None:
    for verifier in (ED_VERIFIER, PQ_VERIFIER):
        assert verifier.verify(text, signature) is False
        assert verifier.timestamp_of(text, signature) is None
