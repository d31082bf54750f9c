"""tlog-witness add-checkpoint bodies: the spec's examples, round trips, strict parsing."""

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
from servinfo.audit.errors import NoteInvalid
from servinfo.audit.merkle import consistency_proof, leaf_hash, root_from_leaf_hashes
from servinfo.audit.note import Ed25519NoteSigner, Note, open_note, sign_note
from servinfo.audit.witness_protocol import (
    MAX_PROOF_LINES,
    SIZE_CONTENT_TYPE,
    AddCheckpointRequest,
    format_cosignatures,
    format_size_conflict,
    parse_cosignatures,
    parse_size_conflict,
)

EXAMPLE = json.loads(
    (Path(__file__).parent / "vectors" / "signed_note_reference.json").read_text()
)["spec_add_checkpoint"]
LEAVES = [leaf_hash(bytes([i])) for i in range(9)]
CHECKPOINT = Checkpoint("example.com/log", 9, root_from_leaf_hashes(LEAVES))
LOG = Ed25519NoteSigner("example.com/log", Ed25519PrivateKey.from_private_bytes(bytes([1]) * 32))
NOTE = sign_note(CHECKPOINT.body(), [LOG])
WITNESS = Ed25519CosignatureSigner(
    "witness.example/w1", Ed25519PrivateKey.from_private_bytes(bytes([2]) * 32)
)


def test_the_spec_example_request_parses_and_round_trips() -> None:
    body = EXAMPLE["request"].encode()
    request = AddCheckpointRequest.parse(body)
    assert request.old_size == EXAMPLE["old_size"]
    assert len(request.proof) == EXAMPLE["proof_lines"]
    assert Checkpoint.from_body(Note.parse(request.checkpoint).text).size == 20852163
    assert request.to_bytes() == body


def test_the_spec_example_response_parses_and_round_trips() -> None:
    signatures = parse_cosignatures(EXAMPLE["response"].encode())
    assert [s.name for s in signatures] == ["witness.example/w1"] * 2 + ["witness.example/w2"]
    assert all(len(s.signature) == 72 for s in signatures)
    assert format_cosignatures(signatures) == EXAMPLE["response"].encode()


def test_a_request_carries_a_real_consistency_proof() -> None:
    proof = tuple(consistency_proof(LEAVES, 5))
    request = AddCheckpointRequest(5, proof, NOTE)
    body = request.to_bytes()
    assert body.startswith(b"old 5\n" + base64.b64encode(proof[0]) + b"\n")
    assert body.endswith(b"\n\n" + NOTE)
    assert AddCheckpointRequest.parse(body) == request


def test_a_first_request_has_old_size_zero_and_no_proof() -> None:
    request = AddCheckpointRequest(0, (), NOTE)
    assert request.to_bytes() == b"old 0\n\n" + NOTE
    assert AddCheckpointRequest.parse(request.to_bytes()) == request


def test_the_cosignature_lines_verify_when_added_to_the_checkpoint() -> None:
    body = format_cosignatures([WITNESS.cosign(CHECKPOINT, 1_735_689_600)])
    signatures = parse_cosignatures(body)
    _, verified = open_note(NOTE + body, [WITNESS.verifier()])
    assert verified == signatures


def test_the_size_conflict_body() -> None:
    assert SIZE_CONTENT_TYPE == "text/x.tlog.size"
    assert format_size_conflict(0) == b"0\n"
    assert format_size_conflict(2**64 - 1) == b"18446744073709551615\n"
    assert parse_size_conflict(b"20852014\n") == 20852014
    for bad in (b"", b"5", b"05\n", b"5\n\n", b" 5\n", b"-1\n", b"18446744073709551616\n", b"x\n"):
        with pytest.raises(NoteInvalid, match="not a tree size"):
            parse_size_conflict(bad)
    with pytest.raises(NoteInvalid):
        format_size_conflict(-1)


HASH = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("head", "match"),
    [
        ("old 05", "old size line"),
        ("old -1", "old size line"),
        ("old  5", "old size line"),
        ("Old 5", "old size line"),
        ("old 5\r", "old size line"),
        ("old 18446744073709551616", "outside"),
        (f"old 5\n{HASH[:-1]}", "base64"),
        (f"old 5\n{base64.b64encode(bytes(31)).decode()}", "32 bytes"),
        ("old 5\n" + "\n".join([HASH] * (MAX_PROOF_LINES + 1)), "more than 63"),
        ("old 5\nné", "ASCII"),
    ],
)
def test_malformed_requests_are_refused(head: str, match: str) -> None:
    with pytest.raises(NoteInvalid, match=match):
        AddCheckpointRequest.parse(head.encode() + b"\n\n" + NOTE)


def test_a_request_without_a_note_is_refused() -> None:
    with pytest.raises(NoteInvalid, match="empty line"):
        AddCheckpointRequest.parse(b"old 5\n" + HASH.encode() + b"\n")
    with pytest.raises(NoteInvalid):
        AddCheckpointRequest.parse(b"old 5\n\n" + CHECKPOINT.body())


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\n",
        b"- witness.example/w1 AAAA\n",
        EXAMPLE["response"].encode()[:-1],
        EXAMPLE["response"].encode() + b"\n",
        EXAMPLE["response"].encode().replace(b"\n", b"\r\n"),
    ],
)
def test_malformed_responses_are_refused(body: bytes) -> None:
    with pytest.raises(NoteInvalid):
        parse_cosignatures(body)
    with pytest.raises(NoteInvalid):
        format_cosignatures([])


@given(st.binary(max_size=300))
def test_arbitrary_bodies_raise_only_note_invalid(data: bytes) -> None:
    for parse in (AddCheckpointRequest.parse, parse_cosignatures, parse_size_conflict):
        try:
            parse(data)
        except NoteInvalid as exc:
            assert_one_short_line(exc.message)


@given(st.lists(st.sampled_from(EXAMPLE["request"].split("\n")), max_size=16))
def test_shuffled_request_lines_raise_only_note_invalid(lines: list[str]) -> None:
    try:
        AddCheckpointRequest.parse("\n".join(lines).encode())
    except NoteInvalid as exc:
        assert_one_short_line(exc.message)


def assert_one_short_line(message: str) -> None:
    """A refusal is one line and quotes little of its input."""
    assert "\n" not in message
    assert len(message) < 200


# -- vectors from the Go implementation (tests/audit/vectors/README.md) ---------------

GO_VECTORS = json.loads((Path(__file__).parent / "vectors" / "go_independent.json").read_text())


@pytest.mark.parametrize(
    "vector", GO_VECTORS["add_checkpoint"], ids=lambda v: f"{v['old_size']}-{v['new_size']}"
)
def test_go_requests_parse_and_carry_our_consistency_proofs(vector: dict[str, Any]) -> None:
    body = vector["body"].encode()
    request = AddCheckpointRequest.parse(body)
    assert request.old_size == vector["old_size"]
    leaves = [leaf_hash((GO_VECTORS["leaf_data"] % i).encode()) for i in range(vector["new_size"])]
    assert list(request.proof) == consistency_proof(leaves, vector["old_size"])
    assert Checkpoint.from_body(Note.parse(request.checkpoint).text).size == vector["new_size"]
    assert request.to_bytes() == body
