"""Signed notes: the Go reference's vectors, the spec's examples, and fail-closed parsing."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from servinfo.audit.errors import NoteInvalid
from servinfo.audit.note import (
    MAX_NOTE_SIZE,
    SIG_ED25519,
    Ed25519NoteSigner,
    Ed25519NoteVerifier,
    Note,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    format_vkey,
    key_id,
    open_note,
    parse_vkey,
    sign_note,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "signed_note_reference.json").read_text()
)
GO = VECTORS["go"]
TEXT: str = GO["text"]
PETER_SIG: str = GO["peter_sig"]
ENOCH_SIG: str = GO["enoch_sig"]


def peter_signer() -> Ed25519NoteSigner:
    """The signer of Go's ``PRIVATE+KEY+PeterNeumann+…`` key: type byte 0x01, then the seed."""
    raw = base64.b64decode(GO["peter_skey"].split("+", 4)[4])
    assert raw[0] == SIG_ED25519
    return Ed25519NoteSigner("PeterNeumann", Ed25519PrivateKey.from_private_bytes(raw[1:]))


@pytest.fixture
def peter() -> NoteVerifier:
    return parse_vkey(GO["peter_vkey"])


@pytest.fixture
def enoch() -> NoteVerifier:
    return parse_vkey(GO["enoch_vkey"])


def note(*lines: str) -> bytes:
    return (TEXT + "\n" + "".join(lines)).encode()


# -- keys ---------------------------------------------------------------------------


def test_the_reference_vkeys_parse_with_their_key_ids(
    peter: NoteVerifier, enoch: NoteVerifier
) -> None:
    assert (peter.name, peter.key_id.hex()) == ("PeterNeumann", "c74f20a3")
    assert (enoch.name, enoch.key_id.hex()) == ("EnochRoot", "af0cfe78")
    assert isinstance(peter, Ed25519NoteVerifier)
    assert peter.vkey() == GO["peter_vkey"]


def test_the_signer_of_the_reference_skey_has_the_reference_vkey() -> None:
    signer = peter_signer()
    assert isinstance(signer, NoteSigner)
    assert signer.vkey() == GO["peter_vkey"]
    assert signer.key_id == bytes.fromhex("c74f20a3")
    assert signer.verifier().vkey() == GO["peter_vkey"]


def test_key_id_is_the_truncated_sha256_of_name_newline_type_and_key() -> None:
    raw = base64.b64decode(GO["peter_vkey"].split("+", 2)[2])
    assert key_id("PeterNeumann", raw) == bytes.fromhex("c74f20a3")
    assert format_vkey("PeterNeumann", raw) == GO["peter_vkey"]


def test_every_mangling_of_a_vkey_is_refused() -> None:
    # As TestNewVerifier: every proper substring, and every one-byte increment.
    vkey = GO["peter_vkey"]
    for i in range(len(vkey) + 1):
        for j in range(i + 1, len(vkey) + 1):
            if (i, j) != (0, len(vkey)):
                with pytest.raises(NoteInvalid):
                    parse_vkey(vkey[i:j])
    for i in range(len(vkey)):
        mangled = vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :]
        with pytest.raises(NoteInvalid):
            parse_vkey(mangled)


@pytest.mark.parametrize("vkey", GO["bad_vkeys"])
def test_a_wrong_length_or_unknown_type_is_refused(vkey: str) -> None:
    with pytest.raises(NoteInvalid):
        parse_vkey(vkey)


def test_an_uppercase_key_id_is_refused() -> None:
    name, hex_id, key = GO["peter_vkey"].split("+", 2)
    with pytest.raises(NoteInvalid, match="malformed verifier key"):
        parse_vkey(f"{name}+{hex_id.upper()}+{key}")


@pytest.mark.parametrize("name", ["", "a+b", "a b", "a\u00a0b", "a\u2003b", "a\u3000b", "a\tb"])
def test_key_names_with_spaces_or_plus_are_refused(name: str) -> None:
    key = Ed25519PrivateKey.from_private_bytes(bytes(32))
    with pytest.raises(NoteInvalid):
        Ed25519NoteSigner(name, key)
    with pytest.raises(NoteInvalid):
        NoteSignature(name, bytes(4), b"x")


# -- signing ------------------------------------------------------------------------


def test_signing_reproduces_the_reference_note() -> None:
    assert sign_note(TEXT.encode(), [peter_signer()]) == note(PETER_SIG)


def test_signing_refuses_text_without_a_final_newline() -> None:
    with pytest.raises(NoteInvalid, match="newline"):
        sign_note(b"abc", [peter_signer()])
    with pytest.raises(NoteInvalid):
        sign_note(TEXT.encode(), [])


def test_a_signature_line_round_trips() -> None:
    line = NoteSignature.parse_line(PETER_SIG[:-1])
    assert (line.name, line.key_id.hex(), len(line.signature)) == ("PeterNeumann", "c74f20a3", 64)
    assert line.line() == PETER_SIG


# -- opening ------------------------------------------------------------------------


def test_one_known_signature_verifies_and_the_unknown_one_is_ignored(
    peter: NoteVerifier,
) -> None:
    parsed, verified = open_note(note(PETER_SIG, ENOCH_SIG), [peter])
    assert parsed.text == TEXT.encode()
    assert [s.name for s in verified] == ["PeterNeumann"]
    assert [s.name for s in parsed.signatures] == ["PeterNeumann", "EnochRoot"]


def test_both_known_signatures_verify(peter: NoteVerifier, enoch: NoteVerifier) -> None:
    _, verified = open_note(note(PETER_SIG, ENOCH_SIG), [peter, enoch])
    assert [s.name for s in verified] == ["PeterNeumann", "EnochRoot"]


def test_a_note_without_a_known_signature_is_refused() -> None:
    with pytest.raises(NoteInvalid, match="no known signature"):
        open_note(note(PETER_SIG, ENOCH_SIG), [])


def test_two_verifiers_for_one_key_are_ambiguous_only_when_used(
    peter: NoteVerifier, enoch: NoteVerifier
) -> None:
    with pytest.raises(NoteInvalid, match=r"ambiguous key 'EnochRoot'\+af0cfe78"):
        open_note(note(ENOCH_SIG), [enoch, peter, enoch])
    _, verified = open_note(note(PETER_SIG), [enoch, peter, enoch])
    assert len(verified) == 1


def test_more_than_100_signatures_are_refused(peter: NoteVerifier) -> None:
    for verifiers in ([peter], []):
        with pytest.raises(NoteInvalid, match="more than 100"):
            open_note(note(PETER_SIG * 101), verifiers)
    _, verified = open_note(note(PETER_SIG * 100), [peter])
    assert len(verified) == 1  # a repeated signature counts once


def test_a_failing_signature_by_a_known_key_rejects_the_note(peter: NoteVerifier) -> None:
    forged = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(NoteInvalid, match=r"invalid signature for key 'PeterNeumann'\+c74f20a3"):
        open_note(note(forged), [peter])


def test_duplicated_and_unknown_forged_signatures(peter: NoteVerifier) -> None:
    forged_enoch = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    data = note(PETER_SIG, PETER_SIG, ENOCH_SIG, ENOCH_SIG, forged_enoch)
    _, verified = open_note(data, [peter])
    assert [s.name for s in verified] == ["PeterNeumann"]


@pytest.mark.parametrize(
    "data",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + "— Bad Name " + PETER_SIG.split(" ")[2],
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG.replace("\n", "\r\n"),
        TEXT + "\n" + "— PeterNeumann " + base64.b64encode(b"abcd").decode() + "\n",
        TEXT + "\n" + "— PeterNeumann \n",
        TEXT + "\n" + "— PeterNeumann" + "\n",
    ],
)
def test_malformed_notes_are_refused(data: str, peter: NoteVerifier) -> None:
    with pytest.raises(NoteInvalid):
        open_note(data.encode(), [peter])


def test_invalid_utf8_is_refused(peter: NoteVerifier) -> None:
    with pytest.raises(NoteInvalid, match="UTF-8"):
        open_note(b"\xff" + note(PETER_SIG), [peter])
    with pytest.raises(NoteInvalid, match="UTF-8"):
        Note.parse(b"\xed\xa0\x80\n\n" + PETER_SIG.encode())  # an encoded surrogate


def test_non_canonical_base64_is_refused(peter: NoteVerifier) -> None:
    # The last character before '=' carries two spare bits; Go ignores them, servinfo does not.
    encoded = PETER_SIG.split(" ")[2].strip()
    assert encoded.endswith("M=")
    loose = PETER_SIG.replace(encoded, encoded[:-2] + "N=")
    assert base64.b64decode(encoded[:-2] + "N=") == base64.b64decode(encoded)
    with pytest.raises(NoteInvalid, match="canonical"):
        open_note(note(loose), [peter])
    unpadded = PETER_SIG.replace(encoded, encoded[:-1])
    with pytest.raises(NoteInvalid, match="base64"):
        open_note(note(unpadded), [peter])


def test_notes_over_one_mib_are_refused() -> None:
    big = ("x" * 1000 + "\n") * (MAX_NOTE_SIZE // 1001 + 1)
    with pytest.raises(NoteInvalid, match="exceeds"):
        Note.parse((big + "\n" + PETER_SIG).encode())
    with pytest.raises(NoteInvalid, match="exceeds"):
        sign_note(big.encode(), [peter_signer()])


def test_a_note_round_trips_through_parse_and_to_bytes() -> None:
    data = note(PETER_SIG, ENOCH_SIG)
    assert Note.parse(data).to_bytes() == data


# -- the spec's examples ------------------------------------------------------------


def test_the_spec_example_verifies() -> None:
    example = VECTORS["spec_example"]
    verifier = parse_vkey(example["vkey"])
    parsed, verified = open_note(example["note"].encode(), [verifier])
    assert parsed.text == b"This is an example message.\n"
    assert [s.key_id.hex() for s in verified] == ["530d903a"]


def test_the_text_ends_at_the_last_blank_line() -> None:
    poem = VECTORS["spec_poem"]
    parsed = Note.parse(poem["note"].encode())
    assert parsed.text == poem["text"].encode()
    assert [s.name for s in parsed.signatures] == ["quasimodo.example/salvatore"]


def test_a_signature_by_a_fresh_key_verifies_and_a_changed_text_does_not() -> None:
    signer = Ed25519NoteSigner("example.com/fresh", Ed25519PrivateKey.from_private_bytes(bytes(32)))
    data = sign_note(b"hello\n", [signer])
    _, verified = open_note(data, [parse_vkey(signer.vkey())])
    assert verified[0].key_id == signer.key_id
    with pytest.raises(NoteInvalid, match="invalid signature"):
        open_note(data.replace(b"hello", b"hellp"), [signer.verifier()])


# -- fail closed on anything --------------------------------------------------------


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_note_invalid(data: bytes) -> None:
    try:
        Note.parse(data)
    except NoteInvalid as exc:
        assert_one_short_line(exc.message)


@given(
    st.lists(
        st.one_of(
            st.sampled_from([PETER_SIG, ENOCH_SIG, "\n", "— ", " ", "=", "+", "\u2014"]),
            st.text(max_size=20),
        ),
        max_size=12,
    )
)
def test_arbitrary_notes_raise_only_note_invalid(parts: list[str]) -> None:
    data = (TEXT + "\n" + "".join(parts)).encode("utf-8", "surrogatepass")
    try:
        open_note(data, [parse_vkey(GO["peter_vkey"])])
    except NoteInvalid as exc:
        assert_one_short_line(exc.message)


@given(st.text(max_size=120))
def test_arbitrary_vkeys_raise_only_note_invalid(vkey: str) -> None:
    try:
        parse_vkey(vkey)
    except NoteInvalid as exc:
        assert_one_short_line(exc.message)


@given(st.text(max_size=80))
def test_arbitrary_signature_lines_raise_only_note_invalid(line: str) -> None:
    try:
        NoteSignature.parse_line("— " + line)
    except NoteInvalid as exc:
        assert_one_short_line(exc.message)


def assert_one_short_line(message: str) -> None:
    """A refusal is one line and quotes little of its input."""
    assert "\n" not in message
    assert len(message) < 200


# -- vectors from the Go implementation (tests/audit/vectors/README.md) ---------------

GO_VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "go_independent.json").read_text()
)


@pytest.mark.parametrize("vector", GO_VECTORS["plain_notes"], ids=lambda v: v["vkey"][:12])
def test_go_signed_notes_open_with_their_vkeys(vector: dict[str, str]) -> None:
    verifier = parse_vkey(vector["vkey"])
    assert verifier.vkey() == vector["vkey"]  # type: ignore[attr-defined]
    parsed, verified = open_note(vector["note"].encode(), [verifier])
    assert parsed.text == vector["text"].encode()
    assert len(verified) == 1


def test_go_log_key_signs_byte_for_byte_like_python() -> None:
    log = GO_VECTORS["log"]
    signer = Ed25519NoteSigner(
        log["origin"], Ed25519PrivateKey.from_private_bytes(bytes.fromhex(log["seed_hex"]))
    )
    assert signer.vkey() == log["vkey"]
    for vector in GO_VECTORS["checkpoints"]:
        go_note = vector["note"].encode()
        ours = sign_note(vector["body"].encode(), [signer])
        assert go_note.startswith(ours[:-1])  # Go's note carries the cosignatures after it
