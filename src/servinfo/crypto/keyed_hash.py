"""Keyed hashes (HMAC-SHA256): blind indexes and pseudonyms.

A plain hash of an e-mail address is reversible by guessing (dictionaries of
addresses are cheap); a keyed hash is not without the key, which lives in the
keyring. Every input is domain-separated — a purpose tag, then length-prefixed
field name, salt and value — so an index of one field never equals an index
of another, nor a pseudonym.

Outputs are bound to the key version: after rotating ``blind_index`` or
``pseudonym`` the store must recompute, so it records the ``key_id`` used.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from binascii import hexlify
from collections.abc import Iterable

from servinfo.crypto._encoding import length_prefixed, text_fields
from servinfo.crypto.errors import KeyringError
from servinfo.crypto.keyring import BLIND_INDEX, PSEUDONYM, KeyVersion

__all__ = [
    "BLIND_INDEX_SIZE",
    "REFERENCE_SIZE",
    "BlindIndexer",
    "KeyedReferences",
    "Pseudonymizer",
    "normalize_identifier",
]

#: Blind indexes are HMAC-SHA256 truncated to 128 bits: collisions stay
#: negligible (birthday bound 2**64 values) while the index column is half the
#: size; an exact-match lookup still checks the decrypted record.
BLIND_INDEX_SIZE = 16
#: Pseudonyms are 128 bits written as 32 lower-case hex characters.
_PSEUDONYM_SIZE = 16

#: References are HMAC-SHA256 truncated to 128 bits, written as 32 lower-case hex characters.
REFERENCE_SIZE = 16
_INDEX_DOMAIN = "servinfo blind index v1"
_PSEUDONYM_DOMAIN = "servinfo pseudonym v1"
_REFERENCES_DOMAIN = "servinfo audit references v1"
_REDACTION_DOMAIN = "servinfo redaction pseudonyms v1"
#: Lookup field names whose keyed HMAC state a :class:`BlindIndexer` keeps.
_FIELDS_REMEMBERED = 64


def normalize_identifier(value: str) -> str:
    """The form in which e-mail addresses and usernames are compared.

    NFKC first, so visually identical compositions ("é" as one or two code
    points) match; then strip and casefold, so " Alice@Example.COM" finds
    "alice@example.com".
    """
    return unicodedata.normalize("NFKC", value).strip().casefold()


def _require_purpose(key: KeyVersion, purpose: str) -> None:
    if key.purpose != purpose:
        raise KeyringError(f"key {key.key_id!r} has purpose {key.purpose!r}, expected {purpose!r}")


class BlindIndexer:
    """Blind indexes of searchable personal fields under the ``blind_index`` key."""

    __slots__ = ("_key", "_key_id", "_keyed_fields")

    def __init__(self, key: KeyVersion) -> None:
        _require_purpose(key, BLIND_INDEX)
        self._key = key.secret
        self._key_id = key.key_id
        #: The HMAC state after the domain and field name, by field name: every index
        #: of a field starts with the same two fields, so that part is hashed once and
        #: the state copied per value (ingest makes tens of thousands a run).
        self._keyed_fields: dict[str, hmac.HMAC] = {}

    def __repr__(self) -> str:
        return f"BlindIndexer(key_id={self._key_id!r})"

    @property
    def key_id(self) -> str:
        return self._key_id

    def index(self, field: str, value: str) -> bytes:
        """The 16-byte blind index of ``value`` (normalized) in the column ``field``.

        HMAC-SHA256 over ``text_fields(domain, field, normalized value)``, truncated.
        """
        keyed = self._keyed_fields.get(field)
        if keyed is None:
            keyed = self._keyed_field(field)
        keyed = keyed.copy()
        # The value's field of text_fields(...): its length, then its UTF-8 bytes.
        keyed.update(length_prefixed(normalize_identifier(value).encode("utf-8")))
        return keyed.digest()[:BLIND_INDEX_SIZE]

    def index_exact(self, field: str, value: str) -> bytes:
        """The 16-byte blind index of ``value`` exactly as given, in the column ``field``.

        For values the caller has put in their one canonical form (an identifier:
        :mod:`servinfo.access.identifiers`), where case-folding would merge values
        that differ (an e-mail address's local part). Same construction as :meth:`index`.
        """
        keyed = self._keyed_fields.get(field)
        if keyed is None:
            keyed = self._keyed_field(field)
        keyed = keyed.copy()
        keyed.update(length_prefixed(value.encode("utf-8")))
        return keyed.digest()[:BLIND_INDEX_SIZE]

    def _keyed_field(self, field: str) -> hmac.HMAC:
        keyed = hmac.new(self._key, text_fields(_INDEX_DOMAIN, field), hashlib.sha256)
        # Field names are the policy's few lookup fields; the bound only keeps a
        # caller that invents names from growing the map without end.
        if len(self._keyed_fields) < _FIELDS_REMEMBERED:
            self._keyed_fields[field] = keyed
        return keyed


class Pseudonymizer:
    """Keyed pseudonyms under the ``pseudonym`` key, optionally per-subject salted.

    The audit log salts each subject's pseudonym; shredding that salt at erasure
    makes the log's pseudonyms unlinkable to the subject for good.
    """

    __slots__ = ("_key_id", "_keyed", "_redaction", "_references")

    def __init__(self, key: KeyVersion) -> None:
        _require_purpose(key, PSEUDONYM)
        self._key_id = key.key_id
        # Every message starts with the same domain field: the HMAC state after it is
        # computed once and copied per pseudonym (the audit log makes thousands a batch).
        self._keyed = hmac.new(
            key.secret, length_prefixed(_PSEUDONYM_DOMAIN.encode()), hashlib.sha256
        )
        self._references = hmac.new(
            key.secret, length_prefixed(_REFERENCES_DOMAIN.encode()), hashlib.sha256
        )
        self._redaction = hmac.new(
            key.secret, length_prefixed(_REDACTION_DOMAIN.encode()), hashlib.sha256
        )

    def __repr__(self) -> str:
        return f"Pseudonymizer(key_id={self._key_id!r})"

    @property
    def key_id(self) -> str:
        return self._key_id

    def pseudonym(self, value: str, salt: bytes = b"") -> str:
        """32 lower-case hex characters that stand for ``value`` (exactly, not normalized)."""
        keyed = self._keyed.copy()
        keyed.update(length_prefixed(salt, value.encode("utf-8")))  # after the domain field
        return keyed.digest()[:_PSEUDONYM_SIZE].hex()

    def reference_key(self, value: str, salt: bytes) -> bytes:
        """The 32-byte key of the audit log's references in entries about ``value``.

        ``HMAC-SHA256(key, length_prefixed("servinfo audit references v1", salt,
        value))``: bound to the subject's salt, so destroying the salt destroys it, and
        domain-separated from :meth:`pseudonym`, so handing it to the subject (their
        access history) reveals neither the pseudonym key nor other subjects' keys.
        """
        keyed = self._references.copy()
        keyed.update(length_prefixed(salt, value.encode("utf-8")))  # after the domain field
        return keyed.digest()

    def redaction_key(self, subject_id: str, salt: bytes) -> bytes:
        """The 32-byte key of the pseudonyms that replace values in ``subject_id``'s free text.

        ``HMAC-SHA256(key, length_prefixed("servinfo redaction pseudonyms v1", salt,
        subject_id))``, like :meth:`reference_key`: bound to the subject's salt, so that
        destroying the salt at erasure destroys the key, and domain-separated from the
        audit log's pseudonyms and references.
        """
        keyed = self._redaction.copy()
        keyed.update(length_prefixed(salt, subject_id.encode("utf-8")))
        return keyed.digest()


_BLOCK = 64  # SHA-256's block size: HMAC's pads are this long
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


class KeyedReferences:
    """``HMAC-SHA256(key, identifier)[:16]`` in hex, for many identifiers under one key.

    The audit log writes a reference for every record id of every entry about a
    subject, hundreds of thousands a second. :func:`hmac.digest` sets the key
    up again on every call; RFC 2104's two padded keys are hashed here once, and
    each reference copies the two states (the same HMAC, at a third of the cost:
    a test holds it equal to :func:`hmac.digest`).
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if not 0 < len(key) <= _BLOCK:
            raise KeyringError(f"a reference key has 1 to {_BLOCK} bytes, got {len(key)}")
        padded = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(padded.translate(_IPAD))
        self._outer = hashlib.sha256(padded.translate(_OPAD))

    def __repr__(self) -> str:  # never the key
        return "KeyedReferences(...)"

    def hex(self, identifier: bytes) -> bytes:
        """The reference of ``identifier`` (its UTF-8 bytes): 32 lower-case hex digits, ASCII."""
        return self.hex_joined((identifier,), b"")

    def hex_joined(self, identifiers: Iterable[bytes], separator: bytes) -> bytes:
        """The references of ``identifiers`` (their UTF-8 bytes), joined by ``separator``.

        One call for an entry's record ids: the append makes hundreds of thousands a
        second, and a call per reference costs a tenth of its time.
        """
        inner_state, outer_state = self._inner, self._outer
        references = []
        for identifier in identifiers:
            inner = inner_state.copy()
            inner.update(identifier)
            outer = outer_state.copy()
            outer.update(inner.digest())
            references.append(hexlify(outer.digest()[:REFERENCE_SIZE]))
        return separator.join(references)
