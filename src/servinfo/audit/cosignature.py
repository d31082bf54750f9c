"""Witness cosignatures of C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature).

A cosignature is a note signature on a checkpoint by a *cosigner* (a witness): "as
of this time, this is the largest tree I have seen for this origin, consistent with
everything before". The signature is ``timestamp (u64, big-endian) || signature``
over a message that depends on the type:

- **Ed25519, type 0x04** (``cosignature/v1``): the message is ``cosignature/v1\\n``,
  ``time <decimal>\\n``, then the whole checkpoint body, extension lines included.
  The name is not signed, so one key must never serve two cosigners.
- **ML-DSA-44, type 0x06** (``subtree/v1``): the message is the binary
  ``cosigned_message``: the label ``subtree/v1\\n\\0``, the cosigner name and the
  origin (each with a 1-byte length), timestamp, ``start``, ``end`` (u64s) and the
  32-byte hash. A checkpoint is the subtree ``[0, size)``; extension lines are not
  signed. A subtree with ``start > 0`` carries timestamp 0.

Both verifiers are :class:`~servinfo.audit.note.NoteVerifier` s, so
:func:`~servinfo.audit.note.open_note` checks cosignatures like any signature, and
:meth:`timestamp_of` gives the time a verified cosignature vouches for. Timestamps
are seconds since the epoch and never exceed 2^63 - 1; signers take them from the
caller or from an injected clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.mldsa import (
    MLDSA44PrivateKey,
    MLDSA44PublicKey,
)

from servinfo.audit.checkpoint import MAX_TREE_SIZE, Checkpoint
from servinfo.audit.errors import CheckpointInvalid, NoteInvalid
from servinfo.audit.merkle import HASH_SIZE
from servinfo.audit.note import (
    SIG_COSIGNATURE_ED25519,
    SIG_COSIGNATURE_MLDSA44,
    NoteSignature,
    excerpt,
    format_vkey,
    is_valid_key_name,
    key_id,
)

__all__ = [
    "ED25519_COSIGNATURE_SIZE",
    "MAX_TIMESTAMP",
    "MLDSA44_COSIGNATURE_SIZE",
    "MLDSA44_PUBLIC_KEY_SIZE",
    "CosignatureVerifier",
    "Ed25519CosignatureSigner",
    "Ed25519CosignatureVerifier",
    "MLDSA44CosignatureSigner",
    "MLDSA44CosignatureVerifier",
    "ed25519_cosigned_message",
    "mldsa44_cosigned_message",
]

#: Cosignature timestamps are u64 on the wire but MUST NOT exceed 2^63 - 1.
MAX_TIMESTAMP = 2**63 - 1
#: Bytes of an ML-DSA-44 public key (FIPS 204).
MLDSA44_PUBLIC_KEY_SIZE = 1312
_TIMESTAMP_SIZE = 8
_ED25519_KEY_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64
_MLDSA44_SIGNATURE_SIZE = 2420
#: Bytes of a ``timestamped_signature``: timestamp then the signature proper.
ED25519_COSIGNATURE_SIZE = _TIMESTAMP_SIZE + _ED25519_SIGNATURE_SIZE
MLDSA44_COSIGNATURE_SIZE = _TIMESTAMP_SIZE + _MLDSA44_SIGNATURE_SIZE
_SUBTREE_LABEL = b"subtree/v1\n\x00"
_MAX_NAME_BYTES = 255

Clock = Callable[[], int]


def _system_clock() -> int:
    return int(time.time())


@runtime_checkable
class CosignatureVerifier(Protocol):
    """A cosigner's key: a note verifier that can also say when a cosignature was made."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, text: bytes, signature: bytes) -> bool: ...

    def timestamp_of(self, checkpoint_body: bytes, signature: bytes) -> int | None:
        """The cosignature's timestamp if it verifies over ``checkpoint_body``, else None."""
        ...


def ed25519_cosigned_message(timestamp: int, checkpoint_body: bytes) -> bytes:
    """The ``cosignature/v1`` message: header, ``time`` line, then the checkpoint body."""
    _check_timestamp(timestamp)
    return b"cosignature/v1\ntime %d\n" % timestamp + checkpoint_body


def mldsa44_cosigned_message(
    cosigner_name: str, timestamp: int, origin: str, start: int, end: int, root_hash: bytes
) -> bytes:
    """The ``subtree/v1`` ``cosigned_message``; :class:`CheckpointInvalid` if unsignable."""
    _check_timestamp(timestamp)
    name, log = cosigner_name.encode(), origin.encode()
    if not 1 <= len(name) <= _MAX_NAME_BYTES or not 1 <= len(log) <= _MAX_NAME_BYTES:
        raise CheckpointInvalid("cosigner name and origin must each be 1..255 bytes")
    if not 0 <= start <= end <= MAX_TREE_SIZE:
        raise CheckpointInvalid(f"subtree [{start}, {end}) is not a range of a tree")
    if start and timestamp:
        raise CheckpointInvalid("a subtree that does not start at 0 has timestamp 0")
    if len(root_hash) != HASH_SIZE:
        raise CheckpointInvalid(f"root hash must be {HASH_SIZE} bytes")
    return b"".join(
        [
            _SUBTREE_LABEL,
            bytes([len(name)]),
            name,
            timestamp.to_bytes(8, "big"),
            bytes([len(log)]),
            log,
            start.to_bytes(8, "big"),
            end.to_bytes(8, "big"),
            root_hash,
        ]
    )


# -- Ed25519 cosignature/v1 -----------------------------------------------------------


class Ed25519CosignatureVerifier:
    """Checks Ed25519 ``cosignature/v1`` cosignatures (type 0x04) by the cosigner ``name``."""

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_name(name)
        if len(public_key) != _ED25519_KEY_SIZE:
            raise NoteInvalid(
                f"an Ed25519 public key has {_ED25519_KEY_SIZE} bytes, got {len(public_key)}"
            )
        self._name = name
        self._type_and_key = bytes([SIG_COSIGNATURE_ED25519]) + public_key
        self._key = Ed25519PublicKey.from_public_bytes(bytes(public_key))
        self._key_id = key_id(name, self._type_and_key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._key_id

    def verify(self, text: bytes, signature: bytes) -> bool:
        return self.timestamp_of(text, signature) is not None

    def timestamp_of(self, checkpoint_body: bytes, signature: bytes) -> int | None:
        if len(signature) != ED25519_COSIGNATURE_SIZE or _checkpoint(checkpoint_body) is None:
            return None
        timestamp = int.from_bytes(signature[:_TIMESTAMP_SIZE], "big")
        if timestamp > MAX_TIMESTAMP:
            return None
        message = ed25519_cosigned_message(timestamp, checkpoint_body)
        try:
            self._key.verify(signature[_TIMESTAMP_SIZE:], message)
        except InvalidSignature:
            return None
        return timestamp

    def vkey(self) -> str:
        """This cosigner's verifier key (type 0x04)."""
        return format_vkey(self._name, self._type_and_key)

    def __repr__(self) -> str:
        return f"Ed25519CosignatureVerifier({self._name!r}, key_id={self._key_id.hex()})"


class Ed25519CosignatureSigner:
    """Makes Ed25519 ``cosignature/v1`` cosignatures as the cosigner ``name``.

    :meth:`cosign` takes the time from the caller; :meth:`sign` (the note-signer
    interface) reads ``clock``, the system's seconds by default.
    """

    def __init__(
        self, name: str, private_key: Ed25519PrivateKey, *, clock: Clock = _system_clock
    ) -> None:
        _check_name(name)
        self._private_key = private_key
        self._clock = clock
        self._verifier = Ed25519CosignatureVerifier(
            name, private_key.public_key().public_bytes_raw()
        )

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_id(self) -> bytes:
        return self._verifier.key_id

    def cosign(self, checkpoint: Checkpoint, timestamp: int) -> NoteSignature:
        """The signature line vouching for ``checkpoint`` at ``timestamp`` (seconds)."""
        return NoteSignature(self.name, self.key_id, self._sign(checkpoint.body(), timestamp))

    def sign(self, text: bytes) -> bytes:
        """A cosignature of the checkpoint ``text`` at the clock's time (key ID not included)."""
        Checkpoint.from_body(text)
        return self._sign(text, self._clock())

    def _sign(self, body: bytes, timestamp: int) -> bytes:
        message = ed25519_cosigned_message(timestamp, body)
        return timestamp.to_bytes(8, "big") + self._private_key.sign(message)

    def vkey(self) -> str:
        """This cosigner's verifier key (type 0x04)."""
        return self._verifier.vkey()

    def verifier(self) -> Ed25519CosignatureVerifier:
        """The verifier of this cosigner."""
        return self._verifier

    def __repr__(self) -> str:
        return f"Ed25519CosignatureSigner({self.name!r}, key_id={self.key_id.hex()})"


# -- ML-DSA-44 subtree/v1 -------------------------------------------------------------


class MLDSA44CosignatureVerifier:
    """Checks ML-DSA-44 ``subtree/v1`` cosignatures (type 0x06) by the cosigner ``name``."""

    def __init__(self, name: str, public_key: bytes) -> None:
        _check_name(name)
        if len(name.encode()) > _MAX_NAME_BYTES:
            raise NoteInvalid("an ML-DSA-44 cosigner name has at most 255 bytes")
        if len(public_key) != MLDSA44_PUBLIC_KEY_SIZE:
            raise NoteInvalid(
                f"an ML-DSA-44 public key has {MLDSA44_PUBLIC_KEY_SIZE} bytes, "
                f"got {len(public_key)}"
            )
        try:
            self._key = MLDSA44PublicKey.from_public_bytes(bytes(public_key))
        except ValueError:
            raise NoteInvalid("not an ML-DSA-44 public key") from None
        self._name = name
        self._type_and_key = bytes([SIG_COSIGNATURE_MLDSA44]) + public_key
        self._key_id = key_id(name, self._type_and_key)

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> bytes:
        return self._key_id

    def verify(self, text: bytes, signature: bytes) -> bool:
        return self.timestamp_of(text, signature) is not None

    def timestamp_of(self, checkpoint_body: bytes, signature: bytes) -> int | None:
        checkpoint = _checkpoint(checkpoint_body)
        if checkpoint is None:
            return None
        return self._timestamp_if_valid(
            checkpoint.origin, 0, checkpoint.size, checkpoint.root_hash, signature
        )

    def verify_subtree(
        self, origin: str, start: int, end: int, root_hash: bytes, signature: bytes
    ) -> bool:
        """Whether ``signature`` cosigns subtree ``[start, end)`` of ``origin`` with this hash."""
        return self._timestamp_if_valid(origin, start, end, root_hash, signature) is not None

    def _timestamp_if_valid(
        self, origin: str, start: int, end: int, root_hash: bytes, signature: bytes
    ) -> int | None:
        if len(signature) != MLDSA44_COSIGNATURE_SIZE:
            return None
        timestamp = int.from_bytes(signature[:_TIMESTAMP_SIZE], "big")
        try:
            message = mldsa44_cosigned_message(self._name, timestamp, origin, start, end, root_hash)
            self._key.verify(signature[_TIMESTAMP_SIZE:], message)
        except (CheckpointInvalid, InvalidSignature, UnicodeEncodeError):
            return None
        return timestamp

    def vkey(self) -> str:
        """This cosigner's verifier key (type 0x06)."""
        return format_vkey(self._name, self._type_and_key)

    def __repr__(self) -> str:
        return f"MLDSA44CosignatureVerifier({self._name!r}, key_id={self._key_id.hex()})"


class MLDSA44CosignatureSigner:
    """Makes ML-DSA-44 ``subtree/v1`` cosignatures as the cosigner ``name``.

    :meth:`cosign` signs a checkpoint (the subtree ``[0, size)``) at the caller's
    time; :meth:`sign_subtree` any subtree; :meth:`sign` reads ``clock``.
    """

    def __init__(
        self, name: str, private_key: MLDSA44PrivateKey, *, clock: Clock = _system_clock
    ) -> None:
        self._private_key = private_key
        self._clock = clock
        self._verifier = MLDSA44CosignatureVerifier(
            name, private_key.public_key().public_bytes_raw()
        )

    @property
    def name(self) -> str:
        return self._verifier.name

    @property
    def key_id(self) -> bytes:
        return self._verifier.key_id

    def cosign(self, checkpoint: Checkpoint, timestamp: int) -> NoteSignature:
        """The signature line vouching for ``checkpoint`` at ``timestamp`` (seconds)."""
        signature = self.sign_subtree(
            checkpoint.origin, 0, checkpoint.size, checkpoint.root_hash, timestamp
        )
        return NoteSignature(self.name, self.key_id, signature)

    def sign_subtree(
        self, origin: str, start: int, end: int, root_hash: bytes, timestamp: int = 0
    ) -> bytes:
        """``timestamp || signature`` over subtree ``[start, end)`` (timestamp 0 if start > 0)."""
        message = mldsa44_cosigned_message(self.name, timestamp, origin, start, end, root_hash)
        return timestamp.to_bytes(8, "big") + self._private_key.sign(message)

    def sign(self, text: bytes) -> bytes:
        """A cosignature of the checkpoint ``text`` at the clock's time (key ID not included)."""
        checkpoint = Checkpoint.from_body(text)
        return self.cosign(checkpoint, self._clock()).signature

    def vkey(self) -> str:
        """This cosigner's verifier key (type 0x06)."""
        return self._verifier.vkey()

    def verifier(self) -> MLDSA44CosignatureVerifier:
        """The verifier of this cosigner."""
        return self._verifier

    def __repr__(self) -> str:
        return f"MLDSA44CosignatureSigner({self.name!r}, key_id={self.key_id.hex()})"


def _checkpoint(body: bytes) -> Checkpoint | None:
    try:
        return Checkpoint.from_body(body)
    except CheckpointInvalid:
        return None


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not is_valid_key_name(name):
        raise NoteInvalid(f"invalid cosigner name {excerpt(str(name))}")


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise CheckpointInvalid("a cosignature timestamp is an integer")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CheckpointInvalid(f"cosignature timestamp {timestamp} is outside 0..2^63-1")
