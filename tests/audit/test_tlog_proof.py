"""tlog-proof files: format, parse, and the four verification steps, each failing closed."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.cosignature import Ed25519CosignatureSigner
from servinfo.audit.errors import ProofInvalid
from servinfo.audit.merkle import inclusion_proof, leaf_hash, root_from_leaf_hashes
from servinfo.audit.note import Ed25519NoteSigner, sign_note
from servinfo.audit.policy import TrustPolicy
from servinfo.audit.tlog_proof import HEADER, TlogProof

ORIGIN = "example.com/log"
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(11)]
CHECKPOINT = Checkpoint(ORIGIN, len(LEAVES), root_from_leaf_hashes(LEAVES))
WHEN = 1_735_689_600


def key(seed: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)


LOG = Ed25519NoteSigner(ORIGIN, key(1))
W1 = Ed25519CosignatureSigner("witness.example/1", key(2))
W2 = Ed25519CosignatureSigner("witness.example/2", key(3))
POLICY = TrustPolicy.parse(
    f"log {LOG.vkey()}\nwitness A {W1.vkey()}\nwitness B {W2.vkey()}\n"
    "group both all A B\nquorum both\n"
)


def cosigned(
    checkpoint: Checkpoint = CHECKPOINT,
    witnesses: tuple[Ed25519CosignatureSigner, ...] = (W1, W2),
) -> bytes:
    lines = "".join(w.cosign(checkpoint, WHEN).line() for w in witnesses)
    return sign_note(checkpoint.body(), [LOG]) + lines.encode()


def proof_for(index: int, note: bytes | None = None, extra: bytes | None = None) -> TlogProof:
    return TlogProof.build(
        LEAVES[index], index, inclusion_proof(LEAVES, index), note or cosigned(), extra
    )


def test_every_entry_of_the_tree_verifies() -> None:
    for index in range(len(LEAVES)):
        verified = proof_for(index).verify(LEAVES[index], POLICY)
        assert verified.checkpoint == CHECKPOINT
        assert verified.cosignatures == {"A": WHEN, "B": WHEN}


def test_the_text_layout_and_round_trip() -> None:
    proof = proof_for(5, extra=b"context")
    text = proof.to_text()
    lines = text.split("\n")
    assert lines[:3] == [HEADER, "extra " + base64.b64encode(b"context").decode(), "index 5"]
    assert lines[3:7] == [base64.b64encode(h).decode() for h in inclusion_proof(LEAVES, 5)]
    assert lines[7] == ""
    assert text.endswith(cosigned().decode())
    assert TlogProof.parse(text) == proof
    assert TlogProof.parse(text.encode()) == proof
    assert TlogProof.parse(proof_for(0).to_text()).extra is None


def test_a_single_leaf_tree_has_an_empty_proof() -> None:
    single = Checkpoint(ORIGIN, 1, LEAVES[0])
    note = cosigned(single)
    proof = TlogProof.build(LEAVES[0], 0, [], note)
    assert proof.to_text().startswith(f"{HEADER}\nindex 0\n\n")
    assert TlogProof.parse(proof.to_text()).verify(LEAVES[0], POLICY).checkpoint == single


def test_step_1_a_leaf_hash_is_32_bytes() -> None:
    with pytest.raises(ProofInvalid, match=r"^step 1 \(leaf hash\)"):
        proof_for(3).verify(LEAVES[3][:31], POLICY)


def test_step_2_the_origin_must_be_a_listed_log() -> None:
    other = Ed25519NoteSigner("other.example/log", key(1))
    checkpoint = Checkpoint("other.example/log", CHECKPOINT.size, CHECKPOINT.root_hash)
    note = sign_note(checkpoint.body(), [other])
    proof = TlogProof(3, tuple(inclusion_proof(LEAVES, 3)), note)
    with pytest.raises(ProofInvalid, match=r"^step 2 \(origin and log signature\).*not a log"):
        proof.verify(LEAVES[3], POLICY)


def test_step_2_the_log_must_have_signed() -> None:
    forged = sign_note(CHECKPOINT.body(), [Ed25519NoteSigner(ORIGIN, key(9))])
    forged += "".join(w.cosign(CHECKPOINT, WHEN).line() for w in (W1, W2)).encode()
    proof = TlogProof(3, tuple(inclusion_proof(LEAVES, 3)), forged)
    with pytest.raises(ProofInvalid, match=r"^step 2 .*not signed by a log"):
        proof.verify(LEAVES[3], POLICY)


def test_step_3_the_quorum_must_be_met() -> None:
    proof = proof_for(3, note=cosigned(witnesses=(W1,)))
    with pytest.raises(ProofInvalid, match=r"^step 3 \(witness quorum\)"):
        proof.verify(LEAVES[3], POLICY)


def test_step_4_the_leaf_must_be_in_the_tree() -> None:
    proof = proof_for(3)
    with pytest.raises(ProofInvalid, match=r"^step 4 \(inclusion\)"):
        proof.verify(LEAVES[4], POLICY)
    wrong_index = TlogProof(4, proof.hashes, proof.checkpoint)
    with pytest.raises(ProofInvalid, match=r"^step 4"):
        wrong_index.verify(LEAVES[3], POLICY)
    outside = TlogProof(11, proof.hashes, proof.checkpoint)
    with pytest.raises(ProofInvalid, match=r"^step 4 .*outside the tree"):
        outside.verify(LEAVES[3], POLICY)
    for i in range(len(proof.hashes)):
        hashes = list(proof.hashes)
        hashes[i] = bytes(32)
        with pytest.raises(ProofInvalid, match=r"^step 4"):
            TlogProof(3, tuple(hashes), proof.checkpoint).verify(LEAVES[3], POLICY)


def test_build_refuses_a_proof_that_cannot_verify() -> None:
    with pytest.raises(ProofInvalid, match="step 4"):
        TlogProof.build(LEAVES[2], 3, inclusion_proof(LEAVES, 3), cosigned())


VALID = proof_for(6, extra=b"x").to_text()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (VALID.replace(HEADER, "c2sp.org/tlog-proof@v2"), "does not start"),
        (VALID.replace("index 6", "index 06"), "decimal"),
        (VALID.replace("index 6", "index -6"), "decimal"),
        (VALID.replace("index 6", "index  6"), "decimal"),
        (VALID.replace("index 6\n", ""), "index line"),
        (VALID.replace("extra eA==", "extra eA"), "base64"),
        (VALID.replace("extra eA==", "extra "), "extra data"),
        (VALID.replace("extra eA==\nindex 6", "index 6\nextra eA=="), "base64"),
        (VALID.split("\n\n")[0], "empty line"),
        (VALID.split("\n\n")[0] + "\n\n" + CHECKPOINT.body().decode(), "checkpoint is malformed"),
        (VALID + "trailing\n", "checkpoint is malformed"),
    ],
)
def test_malformed_proofs_are_refused(text: str, match: str) -> None:
    with pytest.raises(ProofInvalid, match=match):
        TlogProof.parse(text)


def test_a_short_hash_line_and_too_many_hashes_are_refused() -> None:
    head, _, note = VALID.partition("\n\n")
    short = head + "\n" + base64.b64encode(bytes(31)).decode() + "\n\n" + note
    with pytest.raises(ProofInvalid, match="32 bytes"):
        TlogProof.parse(short)
    many = head + ("\n" + base64.b64encode(bytes(32)).decode()) * 65 + "\n\n" + note
    with pytest.raises(ProofInvalid, match="more than 64"):
        TlogProof.parse(many)


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(ProofInvalid, match="UTF-8"):
        TlogProof.parse(VALID.encode().replace(b"index", b"ind\xffx"))


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_proof_invalid(data: bytes) -> None:
    try:
        TlogProof.parse(HEADER.encode() + b"\n" + data)
    except ProofInvalid as exc:
        assert_one_short_line(exc.message)


@given(st.lists(st.sampled_from(VALID.split("\n")), max_size=20))
def test_shuffled_lines_raise_only_proof_invalid(lines: list[str]) -> None:
    try:
        TlogProof.parse("\n".join(lines)).verify(LEAVES[6], POLICY)
    except ProofInvalid as exc:
        assert_one_short_line(exc.message)


def assert_one_short_line(message: str) -> None:
    """A refusal is one line and quotes little of its input."""
    assert "\n" not in message
    assert len(message) < 300


# -- vectors from the Go implementation (tests/audit/vectors/README.md) ---------------

GO_VECTORS = json.loads((Path(__file__).parent / "vectors" / "go_independent.json").read_text())
GO_POLICY = TrustPolicy.parse(
    f"log {GO_VECTORS['log']['vkey']}\n"
    + "".join(f"witness W{i} {w['vkey']}\n" for i, w in enumerate(GO_VECTORS["witnesses"]))
    + "group all-three all W0 W1 W2\nquorum all-three\n"
)


@pytest.mark.parametrize(
    "vector", GO_VECTORS["tlog_proofs"], ids=lambda v: f"{v['index']}-of-{v['size']}"
)
def test_go_tlog_proofs_verify(vector: dict[str, Any]) -> None:
    leaf = leaf_hash((GO_VECTORS["leaf_data"] % vector["index"]).encode())
    assert base64.b64decode(vector["leaf_hash"]) == leaf
    proof = TlogProof.parse(vector["text"])
    verified = proof.verify(leaf, GO_POLICY)
    assert (proof.index, verified.checkpoint.size) == (vector["index"], vector["size"])
    assert set(verified.cosignatures) == {"W0", "W1", "W2"}
    assert proof.to_text() == vector["text"]
    leaves = [leaf_hash((GO_VECTORS["leaf_data"] % i).encode()) for i in range(vector["size"])]
    assert list(proof.hashes) == inclusion_proof(leaves, vector["index"])
