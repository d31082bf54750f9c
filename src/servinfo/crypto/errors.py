"""The crypto package's exceptions.

::

    ServinfoError
    └── CryptoError                 any failure of keys, key sources or envelopes
        ├── MasterKeyError          the master key is missing, malformed or badly protected
        ├── KeyringLocked           the master key does not open the keyring
        ├── KeyringError            keyring file missing/corrupt, unknown purpose or version
        ├── UnwrapError             a wrapped key failed its integrity check
        └── IntegrityError          a record's ciphertext failed its integrity check

Failures to decrypt never say why: a wrong key, a flipped bit and a ciphertext
moved to another row look the same to AES-GCM, and telling them apart would
help an attacker more than an operator. No message contains key material.

These errors describe the server's own state rather than a bad request, so
their ``http_status`` is 5xx.
"""

from __future__ import annotations

from servinfo.errors import ServinfoError

__all__ = [
    "CryptoError",
    "IntegrityError",
    "KeyringError",
    "KeyringLocked",
    "MasterKeyError",
    "UnwrapError",
]


class CryptoError(ServinfoError):
    """Base class of the crypto package's errors."""

    code = "crypto_error"
    http_status = 500


class MasterKeyError(CryptoError):
    """The master key could not be loaded: the message says what to fix."""

    code = "master_key_error"
    http_status = 500


class KeyringLocked(CryptoError):
    """The master key given is not the one that protects the keyring."""

    code = "keyring_locked"
    http_status = 503

    def __init__(self) -> None:
        super().__init__("cannot unlock keyring: wrong master key")


class KeyringError(CryptoError):
    """The keyring file is missing or corrupt, or a purpose or version is unknown."""

    code = "keyring_error"
    http_status = 500


class UnwrapError(CryptoError):
    """A wrapped key failed its integrity check (wrong key, tampered or moved)."""

    code = "unwrap_error"
    http_status = 500

    def __init__(self, label: str) -> None:
        super().__init__(f"wrapped key {label!r} failed its integrity check")
        self.label = label


class IntegrityError(CryptoError):
    """A record's ciphertext did not authenticate; the cause is deliberately not given."""

    code = "integrity_error"
    http_status = 500

    def __init__(self, record_id: str) -> None:
        super().__init__(f"record {record_id}: ciphertext failed its integrity check")
        self.record_id = record_id


class SealedIntegrityError(CryptoError):
    """Sealed data other than a record did not open: a backup's stream cut, reordered, altered
    or foreign, or a package sealed to another key."""

    code = "integrity_error"
    http_status = 500
