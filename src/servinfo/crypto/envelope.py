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

import functools
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from servinfo.crypto import _aead
from servinfo.crypto._encoding import text_fields
from servinfo.crypto.errors import IntegrityError, KeyringError, UnwrapError
from servinfo.crypto.keyring import EXPORT, KeyVersion

__all__ = [
    "DataKey",
    "KekWrapper",
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
#: How ``json.dumps(..., ensure_ascii=False)`` writes a string (the C version when present).
_json_string = json.encoder.encode_basestring


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
        differ, so no two bindings share associated data.
        """
        return _record_aad(
            self.record_id,
            self.subject_id,
            self.category,
            self.kind,
            self.region,
            self.schema_version,
        )


def _record_aad(
    record_id: str, subject_id: str, category: str, kind: str, region: str, schema_version: int
) -> bytes:
    """The associated data of :meth:`RecordBinding.aad`, without building the binding."""
    record = record_id.encode()
    subject = subject_id.encode()
    return b"".join(
        (
            _RECORD_AAD_V1,
            _u32(len(record)),
            record,
            _u32(len(subject)),
            subject,
            _record_aad_tail(category, kind, region, schema_version),
        )
    )


@functools.lru_cache(maxsize=1024)
def _record_aad_tail(category: str, kind: str, region: str, schema_version: int) -> bytes:
    """Category, kind, region and schema version encoded: few distinct values, so cached."""
    if not 0 <= schema_version <= _MAX_U32:
        raise ValueError(f"schema_version must be 0 to {_MAX_U32}, got {schema_version}")
    parts = [category.encode(), kind.encode(), region.encode()]
    return b"".join(_u32(len(p)) + p for p in parts) + _u32(schema_version)


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
    # == json.dumps([subject_id, region, retention_class], ensure_ascii=False), spelled
    # out because it runs for every data key created or unwrapped (tested against it).
    return f"[{_json_string(subject_id)}, {_json_string(region)}, {_json_string(retention_class)}]"


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

    @staticmethod
    def seal_records(
        region: str, records: Sequence[tuple[Sealer, str, str, str, str, int, bytes]]
    ) -> list[bytes]:
        """:meth:`seal` for many records of ``region`` (the ingest hot path): their sealed forms.

        Each entry is ``(sealer, record_id, subject_id, category, kind,
        schema_version, plaintext)``: the binding's fields but the region, passed
        directly instead of as :class:`RecordBinding` objects. Same format and
        associated data as ``sealer.seal(RecordBinding(...), plaintext)``, and
        :meth:`open` opens it. Each record gets its own random 96-bit nonce; all
        of them come from one read of the operating system's CSPRNG, made here and
        used up here (nothing is kept for a later call).
        """
        nonces = _aead.random_nonces(len(records))
        seal = _aead.aes_gcm_seal_with
        return [
            nonce
            + seal(
                sealer._cipher,
                nonce,
                plaintext,
                _record_aad(record_id, subject_id, category, kind, region, version),
            )
            for (sealer, record_id, subject_id, category, kind, version, plaintext), nonce in zip(
                records, nonces, strict=True
            )
        ]

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


class KekWrapper:
    """Wraps and unwraps data keys under one KEK version; build once per KEK and reuse.

    :func:`wrap_data_key` and :func:`unwrap_data_key` build one per call; the
    store keeps one per KEK version, so the AES-GCM key schedule and the
    KEK's part of the associated data are computed once, not per data key.
    """

    __slots__ = ("_aad_prefix", "_cipher", "_key_id")

    def __init__(self, kek: KeyVersion) -> None:
        _require_kek(kek)
        self._key_id = kek.key_id
        self._cipher = _aead.new_cipher(kek.secret)
        self._aad_prefix = text_fields(_DATA_KEY_AAD_DOMAIN, kek.key_id)

    def __repr__(self) -> str:
        return f"KekWrapper(key_id={self._key_id!r})"

    @property
    def key_id(self) -> str:
        """The KEK version's id (``kek:<region>:v<n>``), recorded beside wrapped keys."""
        return self._key_id

    def wrap(self, data_key: bytes, context: str) -> bytes:
        """Wrap ``data_key`` for ``context``: the format of :func:`wrap_data_key`."""
        if len(data_key) != _aead.KEY_SIZE:
            raise ValueError(f"a data key is {_aead.KEY_SIZE} bytes, got {len(data_key)}")
        return self._wrap(data_key, _aead.random_nonce(), context)

    def new_wrapped_keys(self, contexts: Sequence[str]) -> list[tuple[bytes, bytes]]:
        """A fresh data key per context, with its wrapped form: ``(secret, wrapped)`` pairs.

        One read of the operating system's CSPRNG serves every key and nonce
        of the batch; each key still gets its own random key and nonce.
        """
        count = len(contexts)
        keys = _aead.random_keys(count)
        nonces = _aead.random_nonces(count)
        return [
            (key, self._wrap(key, nonce, context))
            for key, nonce, context in zip(keys, nonces, contexts, strict=True)
        ]

    def unwrap(self, wrapped: bytes, context: str) -> bytes:
        """The data key :meth:`wrap` wrapped; :class:`UnwrapError` on any mismatch."""
        header = len(_WRAPPED_V1) + _NONCE
        if len(wrapped) < header + _aead.TAG_SIZE or not wrapped.startswith(_WRAPPED_V1):
            raise UnwrapError(f"data key under {self._key_id}")
        try:
            return _aead.aes_gcm_open_with(
                self._cipher, wrapped[1:header], wrapped[header:], self._aad(context)
            )
        except _aead.InvalidTag:
            raise UnwrapError(f"data key under {self._key_id}") from None

    def _wrap(self, data_key: bytes, nonce: bytes, context: str) -> bytes:
        sealed = _aead.aes_gcm_seal_with(self._cipher, nonce, data_key, self._aad(context))
        return _WRAPPED_V1 + nonce + sealed

    def _aad(self, context: str) -> bytes:
        # == text_fields(_DATA_KEY_AAD_DOMAIN, kek.key_id, context)
        encoded = context.encode("utf-8")
        return self._aad_prefix + len(encoded).to_bytes(4, "big") + encoded


def wrap_data_key(kek: KeyVersion, data_key: bytes, context: str) -> bytes:
    """Wrap ``data_key`` under ``kek``, binding the KEK's id and ``context`` as associated data.

    ``context`` names what the data key protects; use :func:`data_key_context`.
    To wrap many keys under one KEK, build a :class:`KekWrapper` once.
    """
    return KekWrapper(kek).wrap(data_key, context)


def unwrap_data_key(kek: KeyVersion, wrapped: bytes, context: str) -> bytes:
    """The data key :func:`wrap_data_key` wrapped; :class:`UnwrapError` on any mismatch."""
    return KekWrapper(kek).unwrap(wrapped, context)


def rewrap(old_kek: KeyVersion, new_kek: KeyVersion, wrapped: bytes, context: str) -> bytes:
    """Re-wrap a data key under ``new_kek`` after a KEK rotation; records stay as they are."""
    return wrap_data_key(new_kek, unwrap_data_key(old_kek, wrapped, context), context)


def _require_kek(kek: KeyVersion) -> None:
    # Fail closed: wrapping data keys under e.g. the blind-index key would tie
    # two purposes' fates together. The ``export`` key wraps each export's own key.
    if not kek.purpose.startswith("kek:") and kek.purpose != EXPORT:
        raise KeyringError(
            f"key {kek.key_id!r} is not a key-encryption key; "
            f"expected purpose 'kek:<region>' or {EXPORT!r}"
        )
