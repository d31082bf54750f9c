"""Packages for an outside recipient: signed by the deployment, sealed to the recipient.

A package is signed with Ed25519 (the deployment's signing key, so anyone
holding its public key can check who made it) and then encrypted to the
recipient's X25519 public key with a libsodium sealed box (PyNaCl): only the
holder of the matching private key opens it, and the sender keeps no key that
could. Opening fails with :class:`~servinfo.crypto.errors.SealedIntegrityError`
whatever went wrong (wrong key, altered bytes, bad signature).
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from nacl.exceptions import CryptoError as NaclError
from nacl.public import PrivateKey, PublicKey, SealedBox

from servinfo.crypto.errors import CryptoError, SealedIntegrityError

__all__ = [
    "RECIPIENT_KEY_SIZE",
    "RecipientKeyPair",
    "decode_recipient_key",
    "new_recipient_key_pair",
    "open_package",
    "seal_package",
]

RECIPIENT_KEY_SIZE = 32
_SIGNATURE_SIZE = 64


class RecipientKeyPair:
    """An X25519 key pair, as the recipient keeps it (tests and demos make one)."""

    def __init__(self, private: bytes) -> None:
        self.private = private
        self.public = bytes(PrivateKey(private).public_key)

    def public_text(self) -> str:
        return base64.b64encode(self.public).decode("ascii")


def new_recipient_key_pair() -> RecipientKeyPair:
    return RecipientKeyPair(bytes(PrivateKey.generate()))


def decode_recipient_key(text: str) -> bytes:
    """A recipient's public key from its base64 text; :class:`CryptoError` if it is none."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError(
            "a recipient key is 32 bytes in base64; got text that is not base64"
        ) from None
    if len(raw) != RECIPIENT_KEY_SIZE:
        raise CryptoError(
            f"a recipient key is {RECIPIENT_KEY_SIZE} bytes in base64; got {len(raw)} bytes"
        )
    return raw


def seal_package(content: bytes, signing_key: Ed25519PrivateKey, recipient_key: bytes) -> bytes:
    """``content`` signed, then sealed to ``recipient_key``: signature ‖ content, encrypted."""
    signature = signing_key.sign(content)
    return SealedBox(PublicKey(recipient_key)).encrypt(signature + content)


def open_package(sealed: bytes, private_key: bytes, verify_key: bytes) -> bytes:
    """The content of a package, once decrypted with ``private_key`` and its signature
    checked against ``verify_key`` (the deployment's raw Ed25519 public key)."""
    try:
        opened = SealedBox(PrivateKey(private_key)).decrypt(sealed)
        signature, content = opened[:_SIGNATURE_SIZE], opened[_SIGNATURE_SIZE:]
        Ed25519PublicKey.from_public_bytes(verify_key).verify(signature, content)
    except (NaclError, InvalidSignature, ValueError):
        raise SealedIntegrityError("the package cannot be opened with this key") from None
    return content
