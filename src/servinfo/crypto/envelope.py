"""Envelope encryption of records: the safe API the store uses.

Each record is sealed with AES-256-GCM under a *data key*: one random 256-bit
key per (subject, region, retention class). The data key is stored wrapped by
its region's key-encryption key (KEK) from the keyring; destroying it makes
every copy of those records unreadable (crypto-shredding).

Associated data binds each ciphertext to where it belongs — record id, subject,
category, kind, region and schema version — so a ciphertext copied to another
row fails to open. Every failure to open raises :class:`IntegrityError` naming
the record and nothing else; no partial plaintext is ever returned.

Formats (all version-tagged so they can evolve):

* sealed record: 96-bit random nonce || ciphertext || 16-byte tag. Random nonces
  are safe for 2**32 records per data key; a data key covers one subject.
* wrapped data key: 0x01 || nonce || ciphertext || tag, with associated data
  binding the KEK's id and the data key's context.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field

from servinfo.crypto import _aead
from servinfo.crypto._encoding import text_fields
from servinfo.crypto.errors import IntegrityError, KeyringError, UnwrapError
from servinfo.crypto.keyring import KeyVersion

__all__ = [
    "DataKey",
    "RecordBinding",
    "Sealer",
    "data_key_context",
    "new_data_key",
    "rewrap",
    "unwrap_data_key",
    "wrap_data_key",
]

_RECORD_AAD_V1 = b"\x01"
_WRAPPED_V1 = b"\x01"
_DATA_KEY_AAD_DOMAIN = "servinfo data key v1"
_NONCE = _aead.NONCE_SIZE
_MIN_SEALED = _aead.NONCE_SIZE + _aead.TAG_SIZE
_MAX_U32 = 2**32 - 1
_u32 = struct.Struct(">I").pack


@dataclass(frozen=True)
class RecordBinding:
    """Where a record's ciphertext belongs; encoded as the AES-GCM associated data."""

    record_id: str
    subject_id: str
    category: str
    kind: str
    region: str
    schema_version: int

    def __post_init__(self) -> None:
        if not 0 <= self.schema_version <= _MAX_U32:
            raise ValueError(f"schema_version must be 0 to {_MAX_U32}, got {self.schema_version}")

    def aad(self) -> bytes:
        """Format byte 0x01, then each text field length-prefixed, then the schema version.

        Length prefixes make the encoding injective: ("ab", "c") and ("a", "bc")
        differ, so no two bindings share associated data. Spelled out rather than
        looped because it runs once per record on the store's hot path.
        """
        record = self.record_id.encode()
        subject = self.subject_id.encode()
        category = self.category.encode()
        kind = self.kind.encode()
        region = self.region.encode()
        return b"".join(
            (
                _RECORD_AAD_V1,
                _u32(len(record)),
                record,
                _u32(len(subject)),
                subject,
                _u32(len(category)),
                category,
                _u32(len(kind)),
                kind,
                _u32(len(region)),
                region,
                _u32(self.schema_version),
            )
        )


@dataclass(frozen=True)
class DataKey:
    """A data key in the clear, with the id the store records beside its ciphertexts."""

    key_id: str
    secret: bytes = field(repr=False)


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return _aead.random_key()


def data_key_context(subject_id: str, region: str, retention_class: str) -> str:
    """The canonical context string of a data key, for :func:`wrap_data_key`.

    A JSON array rather than joined text, so no choice of values can make two
    different contexts collide.
    """
    return json.dumps([subject_id, region, retention_class], ensure_ascii=False)


class Sealer:
    """Seals and opens records under one data key; build once per key and reuse.

    The AES-GCM key schedule is computed once here, not per record: the store
    seals ~100k records/s.
    """

    __slots__ = ("_cipher", "_key_id")

    def __init__(self, data_key: DataKey) -> None:
        self._key_id = data_key.key_id
        self._cipher = _aead.new_cipher(data_key.secret)

    def __repr__(self) -> str:
        return f"Sealer(key_id={self._key_id!r})"

    @property
    def key_id(self) -> str:
        return self._key_id

    def seal(self, binding: RecordBinding, plaintext: bytes) -> bytes:
        """Encrypt ``plaintext`` bound to ``binding``: nonce || ciphertext || tag."""
        nonce = _aead.random_nonce()
        return nonce + _aead.aes_gcm_seal_with(self._cipher, nonce, plaintext, binding.aad())

    def open(self, binding: RecordBinding, blob: bytes) -> bytes:
        """The plaintext sealed under ``binding``, or :class:`IntegrityError`; never a guess."""
        if len(blob) < _MIN_SEALED:
            raise IntegrityError(binding.record_id)
        try:
            return _aead.aes_gcm_open_with(
                self._cipher, blob[:_NONCE], blob[_NONCE:], binding.aad()
            )
        except _aead.InvalidTag:
            raise IntegrityError(binding.record_id) from None


def wrap_data_key(kek: KeyVersion, data_key: bytes, context: str) -> bytes:
    """Wrap ``data_key`` under ``kek``, binding the KEK's id and ``context`` as associated data.

    ``context`` names what the data key protects; use :func:`data_key_context`.
    """
    _require_kek(kek)
    if len(data_key) != _aead.KEY_SIZE:
        raise ValueError(f"a data key is {_aead.KEY_SIZE} bytes, got {len(data_key)}")
    nonce = _aead.random_nonce()
    sealed = _aead.aes_gcm_seal(kek.secret, nonce, data_key, _data_key_aad(kek, context))
    return _WRAPPED_V1 + nonce + sealed


def unwrap_data_key(kek: KeyVersion, wrapped: bytes, context: str) -> bytes:
    """The data key :func:`wrap_data_key` wrapped; :class:`UnwrapError` on any mismatch."""
    _require_kek(kek)
    header = len(_WRAPPED_V1) + _NONCE
    if len(wrapped) < header + _aead.TAG_SIZE or not wrapped.startswith(_WRAPPED_V1):
        raise UnwrapError(f"data key under {kek.key_id}")
    try:
        return _aead.aes_gcm_open(
            kek.secret, wrapped[1:header], wrapped[header:], _data_key_aad(kek, context)
        )
    except _aead.InvalidTag:
        raise UnwrapError(f"data key under {kek.key_id}") from None


def rewrap(old_kek: KeyVersion, new_kek: KeyVersion, wrapped: bytes, context: str) -> bytes:
    """Re-wrap a data key under ``new_kek`` after a KEK rotation; records stay as they are."""
    return wrap_data_key(new_kek, unwrap_data_key(old_kek, wrapped, context), context)


def _require_kek(kek: KeyVersion) -> None:
    # Fail closed: wrapping data keys under e.g. the blind-index key would tie
    # two purposes' fates together.
    if not kek.purpose.startswith("kek:"):
        raise KeyringError(
            f"key {kek.key_id!r} is not a key-encryption key; expected purpose 'kek:<region>'"
        )


def _data_key_aad(kek: KeyVersion, context: str) -> bytes:
    return text_fields(_DATA_KEY_AAD_DOMAIN, kek.key_id, context)
