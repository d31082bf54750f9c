"""Key sources: what protects the keyring's keys at rest.

A :class:`KeyWrapper` wraps (encrypts and authenticates) a key under a label
and unwraps it again. The label is bound as associated data, so a wrapped key
copied to another label, version or keyring fails to unwrap instead of being
silently used for the wrong purpose.

:class:`LocalMasterKeyWrapper` wraps with the master key held by this process.
A cloud KMS (AWS KMS ``Encrypt``/``Decrypt`` with an encryption context, GCP KMS
or Azure Key Vault with additional authenticated data) implements the same
Protocol — ``wrap`` calls the service with the label as context — so the master
key then never enters servinfo's memory; the keyring does not change.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from servinfo.crypto import _aead
from servinfo.crypto._encoding import text_fields
from servinfo.crypto.errors import MasterKeyError, UnwrapError
from servinfo.crypto.master import MASTER_KEY_SIZE

__all__ = ["KeyWrapper", "LocalMasterKeyWrapper"]


@runtime_checkable
class KeyWrapper(Protocol):
    """Wraps and unwraps keys under a label bound as associated data."""

    def wrap(self, label: str, key: bytes) -> bytes:
        """Encrypt and authenticate ``key``; the result is opaque and self-contained."""
        ...

    def unwrap(self, label: str, wrapped: bytes) -> bytes:
        """The key ``wrap(label, key)`` was given; :class:`UnwrapError` on any mismatch."""
        ...


_HKDF_INFO = b"servinfo keyring v1"
_FORMAT_V1 = b"\x01"
_AAD_DOMAIN = "servinfo keyring entry v1"


class LocalMasterKeyWrapper:
    """AES-256-GCM under a subkey derived from the local master key with HKDF-SHA256.

    The master key itself never encrypts anything: deriving a purpose-bound
    subkey keeps it free for other uses without the two ever sharing a key.
    Wrapped format: version byte 0x01 || 96-bit random nonce || ciphertext || tag.
    """

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != MASTER_KEY_SIZE:
            raise MasterKeyError(f"a master key is {MASTER_KEY_SIZE} bytes, got {len(master_key)}")
        subkey = HKDF(
            algorithm=hashes.SHA256(), length=_aead.KEY_SIZE, salt=None, info=_HKDF_INFO
        ).derive(master_key)
        self._cipher = _aead.new_cipher(subkey)

    def __repr__(self) -> str:
        return "LocalMasterKeyWrapper(<master key hidden>)"

    def wrap(self, label: str, key: bytes) -> bytes:
        nonce = _aead.random_nonce()
        sealed = _aead.aes_gcm_seal_with(self._cipher, nonce, key, self._aad(label))
        return _FORMAT_V1 + nonce + sealed

    def unwrap(self, label: str, wrapped: bytes) -> bytes:
        header = len(_FORMAT_V1) + _aead.NONCE_SIZE
        if len(wrapped) < header + _aead.TAG_SIZE or not wrapped.startswith(_FORMAT_V1):
            raise UnwrapError(label)
        nonce = wrapped[len(_FORMAT_V1) : header]
        try:
            return _aead.aes_gcm_open_with(self._cipher, nonce, wrapped[header:], self._aad(label))
        except _aead.InvalidTag:
            raise UnwrapError(label) from None

    @staticmethod
    def _aad(label: str) -> bytes:
        return text_fields(_AAD_DOMAIN, label)
