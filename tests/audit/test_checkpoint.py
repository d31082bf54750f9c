"""Checkpoint bodies: the spec's layout, one body per checkpoint, strict parsing."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servinfo.audit.checkpoint import MAX_TREE_SIZE, Checkpoint
from servinfo.audit.errors import CheckpointInvalid
from servinfo.audit.merkle import leaf_hash, root_from_leaf_hashes
from servinfo.audit.note import Note

ROOT = root_from_leaf_hashes([leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])
B64 = base64.b64encode(ROOT).decode()
URLSAFE = base64.urlsafe_b64encode(bytes([255] * 32)).decode()
VECTORS = json.loads((Path(__file__).parent / "vectors" / "signed_note_reference.json").read_text())


def test_the_body_is_origin_size_hash_and_extensions() -> None:
    checkpoint = Checkpoint("example.com/log", 3, ROOT, ("ext one",))
    assert checkpoint.body() == f"example.com/log\n3\n{B64}\next one\n".encode()
    assert Checkpoint.from_body(checkpoint.body()) == checkpoint
    assert checkpoint.first_lines == f"example.com/log\n3\n{B64}\n".encode()


def test_the_spec_example_checkpoint_parses() -> None:
    example = VECTORS["spec_cosigned_checkpoint"]
    checkpoint = Checkpoint.from_body(Note.parse(example["note"].encode()).text)
    assert (checkpoint.origin, checkpoint.size) == (example["origin"], example["size"])
    assert checkpoint.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")


def test_the_empty_tree_and_the_largest_size() -> None:
    assert Checkpoint.from_body(f"o\n0\n{B64}\n".encode()).size == 0
    largest = Checkpoint.from_body(f"o\n{MAX_TREE_SIZE}\n{B64}\n".encode())
    assert largest.size == 2**64 - 1


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (f"o\n3\n{B64}", "newline"),
        (f"o\n3\n{B64}\n\n", "extension line is empty"),
        ("o\n3\n", "at least 3"),
        (f"\n3\n{B64}\n", "origin is empty"),
        (f"o\n03\n{B64}\n", "decimal"),
        (f"o\n+3\n{B64}\n", "decimal"),
        (f"o\n 3\n{B64}\n", "decimal"),
        (f"o\n-1\n{B64}\n", "decimal"),
        (f"o\n٣\n{B64}\n", "decimal"),  # an Arabic-Indic digit three
        (f"o\n{2**64}\n{B64}\n", "outside"),
        (f"o\n{'9' * 30}\n{B64}\n", "decimal"),
        (f"o\n3\n{B64[:-1]}\n", "base64"),
        (f"o\n3\n{base64.b64encode(ROOT[:31]).decode()}\n", "32 bytes"),
        (f"o\n3\n{URLSAFE}\n", "base64"),
        (f"o\x01\n3\n{B64}\n", "control"),
        (f"o\r\n3\n{B64}\n", "control"),
    ],
)
def test_malformed_bodies_are_refused(body: str, match: str) -> None:
    with pytest.raises(CheckpointInvalid, match=match):
        Checkpoint.from_body(body.encode())


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(CheckpointInvalid, match="UTF-8"):
        Checkpoint.from_body(b"\xc3\x28\n3\n" + B64.encode() + b"\n")


@pytest.mark.parametrize(
    ("origin", "size", "root", "extensions"),
    [
        ("", 1, ROOT, ()),
        ("a\nb", 1, ROOT, ()),
        ("o", -1, ROOT, ()),
        ("o", 2**64, ROOT, ()),
        ("o", True, ROOT, ()),
        ("o", 1, ROOT[:16], ()),
        ("o", 1, ROOT, ("",)),
        ("o", 1, ROOT, ("x\ny",)),
    ],
)
def test_invalid_fields_are_refused(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    with pytest.raises(CheckpointInvalid):
        Checkpoint(origin, size, root, extensions)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_checkpoint_invalid(data: bytes) -> None:
    try:
        Checkpoint.from_body(data)
    except CheckpointInvalid as exc:
        assert_one_short_line(exc.message)


@given(
    st.text(min_size=1, max_size=30).filter(lambda s: "\n" not in s),
    st.integers(0, MAX_TREE_SIZE),
    st.binary(min_size=32, max_size=32),
)
def test_a_valid_checkpoint_has_exactly_one_body(origin: str, size: int, root: bytes) -> None:
    try:
        checkpoint = Checkpoint(origin, size, root)
    except CheckpointInvalid:
        return  # a control character in the origin
    assert Checkpoint.from_body(checkpoint.body()) == checkpoint


def assert_one_short_line(message: str) -> None:
    """A refusal is one line and quotes little of its input."""
    assert "\n" not in message
    assert len(message) < 200


# -- vectors from the Go implementation (tests/audit/vectors/README.md) ---------------

GO_VECTORS = json.loads((Path(__file__).parent / "vectors" / "go_independent.json").read_text())


def go_leaves(size: int) -> list[bytes]:
    return [leaf_hash((GO_VECTORS["leaf_data"] % i).encode()) for i in range(size)]


@pytest.mark.parametrize("vector", GO_VECTORS["checkpoints"], ids=lambda v: str(v["size"]))
def test_go_checkpoints_parse_and_have_our_roots(vector: dict[str, object]) -> None:
    body = str(vector["body"]).encode()
    checkpoint = Checkpoint.from_body(body)
    assert checkpoint.origin == GO_VECTORS["log"]["origin"]
    assert checkpoint.size == vector["size"]
    assert checkpoint.root_hash == base64.b64decode(str(vector["root_hash"]))
    assert checkpoint.root_hash == root_from_leaf_hashes(go_leaves(checkpoint.size))
    assert checkpoint.body() == body
    assert Note.parse(str(vector["note"]).encode()).text == body
