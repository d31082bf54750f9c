"""Steps (1) and (2) of DRP 1.0 section 3.07: base64, then libsodium combined mode.

A signed DRP message is ``base64(signature || message)``: the 64-byte Ed25519
signature (RFC 8032) immediately followed by the message it signs, which is
what libsodium's ``crypto_sign`` ("combined mode") produces. Verification
uses ``cryptography``'s Ed25519 with the agent's raw 32-byte verify key.

Private: nothing outside :mod:`servinfo.rights.drp` calls it. Every signature
failure is one :class:`~servinfo.rights.drp.errors.BadSignature` with no cause.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from servinfo.rights.drp.errors import BadSignature, Undecodable

SIGNATURE_BYTES = 64
VERIFY_KEY_BYTES = 32


def decode(body: bytes | str) -> bytes:
    """(1) The signed buffer the base64 body holds (standard alphabet, padding required)."""
    text = body.decode("ascii", "replace") if isinstance(body, bytes) else body
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise Undecodable("the body is not base64 (DRP 1.0 section 3.07.1)") from None


def open_signed(signed: bytes, verify_key: bytes) -> bytes:
    """(2) The message, once its prepended signature verifies under ``verify_key``."""
    if len(signed) < SIGNATURE_BYTES:
        raise BadSignature("the message is not signed by the agent's registered key")
    signature, message = signed[:SIGNATURE_BYTES], signed[SIGNATURE_BYTES:]
    try:
        Ed25519PublicKey.from_public_bytes(verify_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise BadSignature("the message is not signed by the agent's registered key") from None
    return message


def check_verify_key(raw: bytes) -> bytes:
    """``raw`` if it is an Ed25519 public key (32 bytes that decode to a point)."""
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise ValueError(
            f"a verify key is {VERIFY_KEY_BYTES} raw bytes of an Ed25519 public key, "
            f"got {len(raw)} bytes"
        ) from None
    return raw


def digest(signed: bytes) -> str:
    """The SHA-256 of a signed buffer, hex: how a replay is recognised."""
    return hashlib.sha256(signed).hexdigest()
