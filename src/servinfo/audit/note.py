"""Signed notes of C2SP signed-note v1.0.0 (https://c2sp.org/signed-note@v1.0.0).

A note is a text ending in a newline, a blank line, then one or more signature
lines ``— <key name> base64(key ID || signature)``. Checkpoints, witness
cosignatures and tlog-proof files all travel as notes, so this module is the one
place that parses them. It follows Go's reference, ``golang.org/x/mod/sumdb/note``,
rule for rule, so a note either side accepts the other accepts too:

- the whole note is UTF-8 with no control character but the newline;
- the text ends at the *last* blank line; every line after it is a signature line;
- a key name is non-empty, with no Unicode space and no ``+``;
- a signature is base64 of at least 5 bytes (4 bytes of key ID, then the signature);
- at most 100 signature lines (the spec asks for at least 16); servinfo also caps a
  note at 1 MiB, room for a hundred ML-DSA-44 cosignatures.

Base64 here is strict, stricter than Go's decoder: standard alphabet, padding, and
no stray bits in the last character, so each value has exactly one encoding.

:func:`open_note` has the reference's semantics: signatures by unknown keys (name
*and* key ID) are ignored, a signature by a known key that fails rejects the whole
note, and a note with no verified signature is rejected. Key IDs are
``SHA-256(name || "\\n" || type || public key)[:4]`` (:func:`key_id`) and verifier
keys are ``<name>+<hex key ID>+base64(type || public key)`` (:func:`parse_vkey`).

Every parser raises only :class:`NoteInvalid`, with a one-line message that quotes
at most a short prefix of the input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from servinfo.audit.errors import NoteInvalid

__all__ = [
    "KEY_ID_SIZE",
    "MAX_NOTE_SIZE",
    "MAX_SIGNATURES",
    "NO_KNOWN_SIGNATURE",
    "SIG_COSIGNATURE_ED25519",
    "SIG_COSIGNATURE_MLDSA44",
    "SIG_ED25519",
    "Ed25519NoteSigner",
    "Ed25519NoteVerifier",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "decode_base64",
    "excerpt",
    "format_vkey",
    "is_valid_key_name",
    "key_id",
    "open_note",
    "parse_vkey",
    "sign_note",
]

#: Signature type of plain Ed25519 note signatures (signed-note).
SIG_ED25519 = 0x01
#: Signature type of timestamped Ed25519 ``cosignature/v1`` (tlog-cosignature).
SIG_COSIGNATURE_ED25519 = 0x04
#: Signature type of timestamped ML-DSA-44 ``subtree/v1`` cosignatures (tlog-cosignature).
SIG_COSIGNATURE_MLDSA44 = 0x06

#: The largest note accepted, in bytes.
MAX_NOTE_SIZE = 1 << 20
#: The most signature lines a note may carry (the Go reference's limit).
MAX_SIGNATURES = 100
#: The message of :func:`open_note`'s refusal when no signature is by a known key.
NO_KNOWN_SIGNATURE = "no known signature"

#: Bytes of a key ID.
KEY_ID_SIZE = 4
_ED25519_KEY_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64
_SIG_PREFIX = "— "
_EXCERPT = 40

# Go's unicode.IsSpace: the White_Space property. Python's str.isspace differs
# (it also counts U+001C..U+001F), so the set is spelled out.
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_HEX_KEY_ID = re.compile(r"[0-9a-f]{8}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


def key_id(name: str, type_and_key: bytes) -> bytes:
    """The 4-byte key ID: ``SHA-256(name || "\\n" || type || public key)[:4]``."""
    return hashlib.sha256(name.encode() + b"\n" + type_and_key).digest()[:KEY_ID_SIZE]


def is_valid_key_name(name: str) -> bool:
    """Whether ``name`` may name a key: non-empty, no Unicode space, no ``+``, no control."""
    return (
        bool(name)
        and "+" not in name
        and not any(c in _SPACES for c in name)
        and _CONTROL.search(name) is None
        and _encodable(name)
    )


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key's name, its 4-byte ID, and the signature proper."""

    name: str
    key_id: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.name):
            raise NoteInvalid(f"invalid key name {excerpt(self.name)}")
        if len(self.key_id) != KEY_ID_SIZE:
            raise NoteInvalid(f"a key ID has {KEY_ID_SIZE} bytes, got {len(self.key_id)}")
        if not self.signature:
            raise NoteInvalid("empty signature")

    def line(self) -> str:
        """``— <name> <base64(key ID || signature)>`` and a newline."""
        encoded = base64.b64encode(self.key_id + self.signature).decode()
        return f"{_SIG_PREFIX}{self.name} {encoded}\n"

    @classmethod
    def parse_line(cls, line: str) -> NoteSignature:
        """The signature of one line, without its newline; :class:`NoteInvalid` if malformed."""
        if not line.startswith(_SIG_PREFIX):
            raise NoteInvalid(f"signature line does not start with an em dash: {excerpt(line)}")
        name, _, encoded = line[len(_SIG_PREFIX) :].partition(" ")
        if not is_valid_key_name(name):
            raise NoteInvalid(f"invalid key name in signature line: {excerpt(line)}")
        raw = decode_base64(encoded, what="signature")
        if len(raw) <= KEY_ID_SIZE:
            raise NoteInvalid(f"signature of {len(raw)} bytes is too short")
        return cls(name, raw[:KEY_ID_SIZE], raw[KEY_ID_SIZE:])


@dataclass(frozen=True)
class Note:
    """A parsed note: its text (ending in a newline) and its signatures, not yet verified."""

    text: bytes
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        if not self.text.endswith(b"\n"):
            raise NoteInvalid("note text does not end in a newline")
        _check_characters(self.text)
        if not self.signatures:
            raise NoteInvalid("note has no signature")
        if len(self.signatures) > MAX_SIGNATURES:
            raise NoteInvalid(f"note has more than {MAX_SIGNATURES} signatures")

    def to_bytes(self) -> bytes:
        """The text, a blank line, then each signature line."""
        lines = "".join(s.line() for s in self.signatures)
        data = self.text + b"\n" + lines.encode()
        if len(data) > MAX_NOTE_SIZE:
            raise NoteInvalid(f"note of {len(data)} bytes exceeds {MAX_NOTE_SIZE}")
        return data

    @classmethod
    def parse(cls, data: bytes) -> Note:
        """Split a signed note into text and signatures; :class:`NoteInvalid` if malformed."""
        if not isinstance(data, bytes):
            raise NoteInvalid("a note is bytes")
        if len(data) > MAX_NOTE_SIZE:
            raise NoteInvalid(f"note of {len(data)} bytes exceeds {MAX_NOTE_SIZE}")
        _check_characters(data)
        split = data.rfind(b"\n\n")
        if split < 0:
            raise NoteInvalid("note has no blank line before its signatures")
        text, block = data[: split + 1], data[split + 2 :]
        if not block or not block.endswith(b"\n"):
            raise NoteInvalid("note's signature block is empty or lacks its final newline")
        lines = block[:-1].decode().split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise NoteInvalid(f"note has more than {MAX_SIGNATURES} signatures")
        return cls(text, tuple(NoteSignature.parse_line(line) for line in lines))


@runtime_checkable
class NoteVerifier(Protocol):
    """A key that checks note signatures: ``verify`` gets the signature without the key ID."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, text: bytes, signature: bytes) -> bool: ...


@runtime_checkable
class NoteSigner(Protocol):
    """A key that signs note texts: ``sign`` returns the signature without the key ID."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, text: bytes) -> bytes: ...


class Ed25519NoteVerifier:
    """Checks plain Ed25519 note signatures (type 0x01) by the key ``name``."""

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_name(name)
        if len(public_key) != _ED25519_KEY_SIZE:
            raise NoteInvalid(
                f"an Ed25519 public key has {_ED25519_KEY_SIZE} bytes, got {len(public_key)}"
            )
        self._name = name
        self._public_bytes = bytes(public_key)
        self._key = Ed25519PublicKey.from_public_bytes(self._public_bytes)
        self._key_id = key_id(name, bytes([SIG_ED25519]) + self._public_bytes)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._key_id

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != _ED25519_SIGNATURE_SIZE:
            return False
        try:
            self._key.verify(signature, text)
        except InvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        """This key as a verifier key string."""
        return format_vkey(self._name, bytes([SIG_ED25519]) + self._public_bytes)

    def __repr__(self) -> str:
        return f"Ed25519NoteVerifier({self._name!r}, key_id={self._key_id.hex()})"


class Ed25519NoteSigner:
    """Signs note texts with plain Ed25519 (type 0x01), as the key ``name``."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        _check_name(name)
        self._name = name
        self._private_key = private_key
        self._verifier = Ed25519NoteVerifier(name, private_key.public_key().public_bytes_raw())

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._verifier.key_id

    def sign(self, text: bytes) -> bytes:
        return self._private_key.sign(text)

    def vkey(self) -> str:
        """The verifier key of this signer."""
        return self._verifier.vkey()

    def verifier(self) -> Ed25519NoteVerifier:
        """The verifier of this signer's signatures."""
        return self._verifier

    def __repr__(self) -> str:
        return f"Ed25519NoteSigner({self._name!r}, key_id={self.key_id.hex()})"


def format_vkey(name: str, type_and_key: bytes) -> str:
    """``<name>+<hex key ID>+base64(type || public key)``."""
    _check_name(name)
    if len(type_and_key) < 2:
        raise NoteInvalid("a verifier key needs a type byte and key material")
    encoded = base64.b64encode(type_and_key).decode()
    return f"{name}+{key_id(name, type_and_key).hex()}+{encoded}"


def parse_vkey(vkey: str) -> NoteVerifier:
    """The verifier a verifier key string describes, by its type byte.

    0x01 is a plain Ed25519 note key, 0x04 an Ed25519 cosigner, 0x06 an ML-DSA-44
    cosigner; any other type, a malformed string or a key ID that does not match
    the name and key raises :class:`NoteInvalid`.
    """
    # Deferred: the cosigners build on this module's types.
    from servinfo.audit.cosignature import (
        Ed25519CosignatureVerifier,
        MLDSA44CosignatureVerifier,
    )

    if not isinstance(vkey, str) or len(vkey) > 4096:
        raise NoteInvalid("verifier key is not a string of at most 4096 characters")
    name, _, rest = vkey.partition("+")
    hex_id, _, encoded = rest.partition("+")
    if not is_valid_key_name(name) or _HEX_KEY_ID.fullmatch(hex_id) is None:
        raise NoteInvalid(f"malformed verifier key {excerpt(vkey)}")
    raw = decode_base64(encoded, what="verifier key")
    if len(raw) < 2:
        raise NoteInvalid(f"verifier key has no key material: {excerpt(vkey)}")
    if key_id(name, raw) != bytes.fromhex(hex_id):
        raise NoteInvalid(f"verifier key's ID does not match its name and key: {excerpt(vkey)}")
    kind, material = raw[0], raw[1:]
    if kind == SIG_ED25519:
        return Ed25519NoteVerifier(name, material)
    if kind == SIG_COSIGNATURE_ED25519:
        return Ed25519CosignatureVerifier(name, material)
    if kind == SIG_COSIGNATURE_MLDSA44:
        return MLDSA44CosignatureVerifier(name, material)
    raise NoteInvalid(f"unsupported signature type 0x{kind:02x} in verifier key {excerpt(name)}")


def sign_note(text: bytes, signers: Sequence[NoteSigner]) -> bytes:
    """The signed note of ``text`` (ending in a newline) with one signature per signer."""
    if not signers:
        raise NoteInvalid("a note needs at least one signer")
    if not text.endswith(b"\n"):
        raise NoteInvalid("note text does not end in a newline")
    _check_characters(text)
    signatures = tuple(NoteSignature(s.name, s.key_id, s.sign(text)) for s in signers)
    return Note(text, signatures).to_bytes()


def open_note(data: bytes, verifiers: Iterable[NoteVerifier]) -> tuple[Note, list[NoteSignature]]:
    """Parse ``data`` and verify it: the note and the signatures that verified, in note order.

    A signature is *by a known key* when a verifier has its name and key ID; others
    are ignored. A known key's signature that fails, two verifiers for one name and
    key ID, or no verified signature at all raise :class:`NoteInvalid`. A repeated
    signature by a known key counts once.
    """
    note = Note.parse(data)
    known: dict[tuple[str, bytes], list[NoteVerifier]] = {}
    for verifier in verifiers:
        known.setdefault((verifier.name, verifier.key_id), []).append(verifier)
    verified: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for signature in note.signatures:
        who = (signature.name, signature.key_id)
        candidates = known.get(who)
        if candidates is None or who in seen:
            continue
        label = f"{excerpt(signature.name)}+{signature.key_id.hex()}"
        if len(candidates) > 1:
            raise NoteInvalid(f"ambiguous key {label}")
        seen.add(who)
        if not candidates[0].verify(note.text, signature.signature):
            raise NoteInvalid(f"invalid signature for key {label}")
        verified.append(signature)
    if not verified:
        raise NoteInvalid(NO_KNOWN_SIGNATURE)
    return note, verified


# -- helpers shared by the C2SP format modules -----------------------------------


def decode_base64(value: str, *, what: str) -> bytes:
    """Strict standard base64 (RFC 4648 section 4): canonical, padded; :class:`NoteInvalid`."""
    if _BASE64.fullmatch(value) is None:
        raise NoteInvalid(f"{what} is not standard base64: {excerpt(value)}")
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error:  # pragma: no cover - the pattern admits only decodable text
        raise NoteInvalid(f"{what} is not standard base64: {excerpt(value)}") from None
    if base64.b64encode(raw).decode() != value:
        raise NoteInvalid(f"{what} is not canonical base64: {excerpt(value)}")
    return raw


def excerpt(value: str | bytes) -> str:
    """A short, printable quotation of untrusted input for an error message."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    shown = repr(text[:_EXCERPT])
    # Escapes can make the quotation several times longer than the 40 characters shown.
    if len(shown) > 2 * _EXCERPT:
        return shown[: 2 * _EXCERPT] + "…"
    return shown + "…" if len(text) > _EXCERPT else shown


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not is_valid_key_name(name):
        raise NoteInvalid(f"invalid key name {excerpt(str(name))}")


def _check_characters(data: bytes) -> None:
    """Valid UTF-8 with no control character other than the newline."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteInvalid("note is not valid UTF-8") from None
    if _CONTROL.search(text) is not None:
        raise NoteInvalid("note contains a control character")


def _encodable(text: str) -> bool:
    """Whether ``text`` encodes to UTF-8 (a lone surrogate does not)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
