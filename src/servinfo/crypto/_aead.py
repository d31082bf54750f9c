"""Raw AES-256-GCM: hazardous material, for the crypto package's own use only.

Nothing here chooses a nonce, a format or an associated-data encoding for you.
Reusing a (key, nonce) pair with AES-GCM reveals the XOR of the two plaintexts
and lets an attacker forge messages under that key, so **nonce management is
the caller's job**. Use :mod:`servinfo.crypto.envelope`, which gets it right.

This is the only module of servinfo allowed to import
``cryptography.hazmat.primitives.ciphers`` (``tests/crypto/test_package.py``
enforces it), and no module outside ``servinfo.crypto`` may import this one.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "AESGCM",
    "KEY_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "InvalidTag",
    "aes_gcm_open",
    "aes_gcm_open_with",
    "aes_gcm_seal",
    "aes_gcm_seal_with",
    "new_cipher",
    "random_key",
    "random_keys",
    "random_nonce",
    "random_nonces",
]

#: AES-256: 32-byte keys.
KEY_SIZE = 32
#: 96-bit nonces, the size GCM is designed for (others are hashed and weaker).
NONCE_SIZE = 12
#: The 128-bit authentication tag AESGCM appends to every ciphertext.
TAG_SIZE = 16


def random_key() -> bytes:
    """A fresh 256-bit key from the operating system's CSPRNG."""
    return os.urandom(KEY_SIZE)


def random_nonce() -> bytes:
    """A fresh random 96-bit nonce.

    Random nonces are safe for up to 2**32 messages per key (NIST SP 800-38D
    §8.3); servinfo's keys each seal far fewer than that.
    """
    return os.urandom(NONCE_SIZE)


def random_keys(count: int) -> list[bytes]:
    """``count`` fresh 256-bit keys from one read of the CSPRNG (cheaper than ``count`` reads)."""
    return _split(os.urandom(KEY_SIZE * count), KEY_SIZE)


def random_nonces(count: int) -> list[bytes]:
    """``count`` fresh random 96-bit nonces from one read of the CSPRNG.

    Each is as random as :func:`random_nonce`'s; nothing is buffered between
    calls (a buffer would be copied into forked processes and reused there).
    """
    return _split(os.urandom(NONCE_SIZE * count), NONCE_SIZE)


def _split(pool: bytes, size: int) -> list[bytes]:
    return [pool[i : i + size] for i in range(0, len(pool), size)]


def new_cipher(key: bytes) -> AESGCM:
    """An AESGCM object for ``key``, to reuse across many calls.

    Building one costs a key schedule; a hot path builds it once per key and
    calls :func:`aes_gcm_seal_with` / :func:`aes_gcm_open_with`.
    """
    if len(key) != KEY_SIZE:
        raise ValueError(f"AES-256 key must be {KEY_SIZE} bytes, got {len(key)}")
    return AESGCM(key)


def aes_gcm_seal_with(cipher: AESGCM, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt and authenticate with a prepared cipher: ciphertext || 16-byte tag."""
    return cipher.encrypt(nonce, plaintext, aad)


def aes_gcm_open_with(cipher: AESGCM, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """Verify and decrypt with a prepared cipher; raises :class:`InvalidTag` on any mismatch."""
    return cipher.decrypt(nonce, ciphertext, aad)


def aes_gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt and authenticate once: ciphertext || 16-byte tag."""
    return new_cipher(key).encrypt(nonce, plaintext, aad)


def aes_gcm_open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """Verify and decrypt once; raises :class:`InvalidTag`, which callers translate."""
    return new_cipher(key).decrypt(nonce, ciphertext, aad)
