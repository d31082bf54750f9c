"""The keyring: versioned, labelled keys, each wrapped by a key source, in one JSON file.

Every key has a *purpose* and a *version*; its id is ``<purpose>:v<version>``,
for example ``kek:eu:v2``. Purposes:

``kek:<region>``
    the key-encryption key of one region; it wraps that region's data keys.
``blind_index``
    HMAC key for the blind indexes through which e-mail and username are found.
``audit_signing``
    Ed25519 private key (32 raw bytes) that signs the audit log's tree heads.
``pseudonym``
    HMAC key for keyed subject pseudonyms in the audit log.
``export``
    key-encryption key of data-subject exports: it wraps each export's own data key.

Later parts add purposes with :meth:`Keyring.add_purpose`. Rotation adds a
version and makes it current; older versions stay readable, so data sealed
under them can be opened and re-wrapped at leisure.

File format (JSON, mode 0600)::

    {"format": "servinfo-keyring", "format_version": 1,
     "keyring_id": "<32 hex>", "check": "<base64 wrapped random bytes>",
     "keys": [{"purpose": "kek:eu", "version": 1,
               "created_at": "2025-01-01T00:00:00+00:00", "wrapped": "<base64>"}, …]}

Each entry is wrapped under the label ``<keyring_id>/<key_id>``, so an entry
copied to another purpose, version or keyring fails its integrity check. The
``check`` entry is unwrapped first: a wrong master key then fails at once as
:class:`KeyringLocked` instead of deep inside some later decryption.

Concurrency: several processes may open the same keyring. Writers take an
advisory lock, re-read the file, append and replace the file atomically
(temp file + fsync + rename), so concurrent rotations never lose a version;
readers see the old file or the new one, and :meth:`Keyring.reload` picks up
what others wrote. A ``Keyring`` object is not meant to be shared across
threads while it is being rotated.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from servinfo.crypto._files import exclusive_lock, replace_file, write_new_file
from servinfo.crypto.errors import KeyringError, KeyringLocked, UnwrapError
from servinfo.crypto.sources import KeyWrapper

__all__ = [
    "AUDIT_SIGNING",
    "BLIND_INDEX",
    "EXPORT",
    "PSEUDONYM",
    "KeyStatus",
    "KeyVersion",
    "Keyring",
    "kek_purpose",
]

BLIND_INDEX = "blind_index"
AUDIT_SIGNING = "audit_signing"
PSEUDONYM = "pseudonym"
EXPORT = "export"
_KEK_PREFIX = "kek:"
#: The purposes every new keyring starts with, besides one KEK per region.
_BASE_PURPOSES = (BLIND_INDEX, AUDIT_SIGNING, PSEUDONYM, EXPORT)

_FORMAT = "servinfo-keyring"
_FORMAT_VERSION = 1
_SECRET_SIZE = 32
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# "name" or "name:qualifier"; no "/" (the label separator) and no further ":".
_PURPOSE = re.compile(r"[a-z][a-z0-9_]*(?::[A-Za-z0-9][A-Za-z0-9_.-]*)?")
_KEY_ID = re.compile(r"(?P<purpose>.+):v(?P<version>[1-9][0-9]*)")


def kek_purpose(region: str) -> str:
    """The purpose label of ``region``'s key-encryption key: ``kek:<region>``."""
    if not _REGION.fullmatch(region):
        raise KeyringError(f"invalid region {region!r}: expected letters, digits, '.', '_' or '-'")
    return _KEK_PREFIX + region


@dataclass(frozen=True, repr=False)
class KeyVersion:
    """One version of one key. Its ``repr`` never shows the secret."""

    purpose: str
    version: int
    secret: bytes
    created_at: datetime

    @property
    def key_id(self) -> str:
        """``<purpose>:v<version>``, e.g. ``kek:eu:v2``: what ciphertexts record."""
        return f"{self.purpose}:v{self.version}"

    def __repr__(self) -> str:
        return f"KeyVersion(key_id={self.key_id!r}, created_at={self.created_at.isoformat()!r})"


@dataclass(frozen=True)
class KeyStatus:
    """A purpose's current version, for ``servinfo keys status``."""

    purpose: str
    version: int
    created_at: datetime

    @property
    def key_id(self) -> str:
        return f"{self.purpose}:v{self.version}"


class Keyring:
    """Versioned keys loaded from a keyring file; build with :meth:`create` or :meth:`open`."""

    def __init__(self, path: Path, wrapper: KeyWrapper, document: dict[str, Any]) -> None:
        """Internal: use :meth:`create` or :meth:`open`."""
        self._path = path
        self._wrapper = wrapper
        self._document = document
        self._keys = _unwrap_all(path, wrapper, document)

    def __repr__(self) -> str:
        return f"Keyring(path={str(self._path)!r}, purposes={len(self._keys)})"

    # -- construction -------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        wrapper: KeyWrapper,
        regions: Iterable[str],
        *,
        now: datetime | None = None,
    ) -> Keyring:
        """Create a keyring at ``path`` with one KEK per region and the base purposes.

        Never overwrites: if ``path`` exists, :class:`KeyringError` is raised
        and the file is left alone (a replaced keyring loses every key in it).
        """
        region_list = list(regions)
        if not region_list:
            raise KeyringError("a keyring needs at least one region, got none")
        duplicates = sorted({r for r in region_list if region_list.count(r) > 1})
        if duplicates:
            raise KeyringError(f"regions must be distinct, got duplicates {duplicates}")
        created_at = _timestamp(now)
        keyring_id = secrets.token_hex(16)
        document: dict[str, Any] = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "keyring_id": keyring_id,
            "check": _b64(wrapper.wrap(_check_label(keyring_id), os.urandom(_SECRET_SIZE))),
            "keys": [],
        }
        for purpose in [kek_purpose(r) for r in region_list] + list(_BASE_PURPOSES):
            document["keys"].append(_new_entry(wrapper, keyring_id, purpose, 1, created_at))
        try:
            write_new_file(path, _serialize(document))
        except FileExistsError:
            raise KeyringError(f"keyring {path} already exists; refusing to overwrite it") from None
        return cls(path, wrapper, document)

    @classmethod
    def open(cls, path: Path, wrapper: KeyWrapper) -> Keyring:
        """Load the keyring at ``path``; :class:`KeyringLocked` if the master key is wrong."""
        return cls(path, wrapper, _read_document(path))

    def reload(self) -> None:
        """Re-read the file, picking up versions other processes added."""
        document = _read_document(self._path)
        self._keys = _unwrap_all(self._path, self._wrapper, document)
        self._document = document

    # -- reading ------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    def purposes(self) -> list[str]:
        """Every purpose in the keyring, sorted."""
        return sorted(self._keys)

    def versions(self, purpose: str) -> tuple[KeyVersion, ...]:
        """Every version of ``purpose``, oldest first."""
        return tuple(self._versions(purpose))

    def current(self, purpose: str) -> KeyVersion:
        """The newest version of ``purpose``: the one to encrypt, sign or index with."""
        return self._versions(purpose)[-1]

    def get(self, key_id: str) -> KeyVersion:
        """The key version named ``key_id`` (``<purpose>:v<n>``), current or not."""
        match = _KEY_ID.fullmatch(key_id)
        if match is None:
            raise KeyringError(f"invalid key id {key_id!r}: expected '<purpose>:v<version>'")
        versions = self._versions(match["purpose"])
        version = int(match["version"])
        if version > len(versions):
            raise KeyringError(
                f"unknown key {key_id!r}: {match['purpose']!r} has versions 1 to {len(versions)}"
            )
        return versions[version - 1]

    def status(self) -> list[KeyStatus]:
        """Each purpose's current version and when it was created, sorted by purpose."""
        return [
            KeyStatus(purpose, key.version, key.created_at)
            for purpose in self.purposes()
            for key in (self.current(purpose),)
        ]

    def signing_key(self, version: int | None = None) -> Ed25519PrivateKey:
        """The audit log's Ed25519 signing key (current version unless one is named)."""
        return Ed25519PrivateKey.from_private_bytes(self._signing_secret(version))

    def verify_key_bytes(self, version: int | None = None) -> bytes:
        """The raw 32-byte Ed25519 public key that verifies :meth:`signing_key`'s signatures."""
        return self.signing_key(version).public_key().public_bytes_raw()

    # -- writing ------------------------------------------------------------

    def rotate(self, purpose: str, *, now: datetime | None = None) -> KeyVersion:
        """Add version n+1 of ``purpose`` and make it current; earlier versions stay."""
        with exclusive_lock(self._path):
            self.reload()  # another process may have rotated since we read the file
            version = len(self._versions(purpose)) + 1
            return self._append(purpose, version, now)

    def add_purpose(self, purpose: str, *, now: datetime | None = None) -> KeyVersion:
        """Add a new purpose at version 1; :class:`KeyringError` if it already exists."""
        if not _PURPOSE.fullmatch(purpose):
            raise KeyringError(
                f"invalid key purpose {purpose!r}: expected 'name' or 'name:qualifier' "
                "(lower-case name, e.g. 'kek:eu' or 'export')"
            )
        with exclusive_lock(self._path):
            self.reload()
            if purpose in self._keys:
                raise KeyringError(f"key purpose {purpose!r} already exists; rotate it instead")
            return self._append(purpose, 1, now)

    def _append(self, purpose: str, version: int, now: datetime | None) -> KeyVersion:
        created_at = _timestamp(now)
        entry = _new_entry(
            self._wrapper, self._document["keyring_id"], purpose, version, created_at
        )
        document = {**self._document, "keys": [*self._document["keys"], entry]}
        replace_file(self._path, _serialize(document))
        self.reload()
        return self.current(purpose)

    def _versions(self, purpose: str) -> list[KeyVersion]:
        try:
            return self._keys[purpose]
        except KeyError:
            raise KeyringError(
                f"unknown key purpose {purpose!r}; the keyring has {self.purposes()}"
            ) from None

    def _signing_secret(self, version: int | None) -> bytes:
        if version is None:
            return self.current(AUDIT_SIGNING).secret
        return self.get(f"{AUDIT_SIGNING}:v{version}").secret


# -- file format --------------------------------------------------------------


def _check_label(keyring_id: str) -> str:
    return f"{keyring_id}/check"


def _entry_label(keyring_id: str, purpose: str, version: int) -> str:
    return f"{keyring_id}/{purpose}:v{version}"


def _new_secret(purpose: str) -> bytes:
    if purpose == AUDIT_SIGNING:
        return Ed25519PrivateKey.generate().private_bytes_raw()
    return os.urandom(_SECRET_SIZE)


def _new_entry(
    wrapper: KeyWrapper, keyring_id: str, purpose: str, version: int, created_at: datetime
) -> dict[str, Any]:
    label = _entry_label(keyring_id, purpose, version)
    return {
        "purpose": purpose,
        "version": version,
        "created_at": created_at.isoformat(),
        "wrapped": _b64(wrapper.wrap(label, _new_secret(purpose))),
    }


def _timestamp(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise KeyringError(f"timestamps must be timezone-aware, got naive {now.isoformat()}")
    return now.astimezone(UTC)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _serialize(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _corrupt(path: Path, what: str) -> KeyringError:
    return KeyringError(f"keyring {path} is corrupt: {what}; restore it from a backup")


def _read_document(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeyringError(f"no keyring at {path}; create one with `servinfo init`") from None
    except OSError as error:
        raise KeyringError(f"cannot read keyring {path}: {error.strerror}") from None
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _corrupt(path, "not valid JSON") from None
    if not isinstance(document, dict):
        raise _corrupt(path, "expected a JSON object")
    if document.get("format") != _FORMAT or document.get("format_version") != _FORMAT_VERSION:
        raise _corrupt(
            path,
            f"expected format {_FORMAT!r} version {_FORMAT_VERSION}, got "
            f"{document.get('format')!r} version {document.get('format_version')!r}",
        )
    if not isinstance(document.get("keyring_id"), str) or not isinstance(
        document.get("check"), str
    ):
        raise _corrupt(path, "'keyring_id' and 'check' must be strings")
    if not isinstance(document.get("keys"), list):
        raise _corrupt(path, "'keys' must be a list")
    return document


def _unwrap_all(
    path: Path, wrapper: KeyWrapper, document: dict[str, Any]
) -> dict[str, list[KeyVersion]]:
    keyring_id: str = document["keyring_id"]
    # (1) The check entry first, so a wrong master key is one clear error.
    try:
        wrapper.unwrap(_check_label(keyring_id), _unb64(path, document["check"]))
    except UnwrapError:
        raise KeyringLocked() from None
    # (2) Then every entry; with the right master key a failure means damage.
    keys: dict[str, list[KeyVersion]] = {}
    for entry in document["keys"]:
        purpose, version, created_at, wrapped = _parse_entry(path, entry)
        versions = keys.setdefault(purpose, [])
        if version != len(versions) + 1:
            raise _corrupt(
                path, f"{purpose!r} has version {version} where {len(versions) + 1} was expected"
            )
        label = _entry_label(keyring_id, purpose, version)
        try:
            secret = wrapper.unwrap(label, wrapped)
        except UnwrapError:
            raise _corrupt(
                path, f"entry '{purpose}:v{version}' failed its integrity check"
            ) from None
        versions.append(KeyVersion(purpose, version, secret, created_at))
    return keys


def _parse_entry(path: Path, entry: object) -> tuple[str, int, datetime, bytes]:
    if not isinstance(entry, dict):
        raise _corrupt(path, "each key entry must be a JSON object")
    purpose, version = entry.get("purpose"), entry.get("version")
    created_at, wrapped = entry.get("created_at"), entry.get("wrapped")
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise _corrupt(path, f"invalid purpose {purpose!r}")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _corrupt(path, f"{purpose!r} has non-integer version {version!r}")
    if not isinstance(created_at, str) or not isinstance(wrapped, str):
        raise _corrupt(path, f"'{purpose}:v{version}' lacks 'created_at' or 'wrapped'")
    try:
        timestamp = datetime.fromisoformat(created_at)
    except ValueError:
        raise _corrupt(path, f"'{purpose}:v{version}' has invalid created_at") from None
    if timestamp.tzinfo is None:
        raise _corrupt(path, f"'{purpose}:v{version}' has a naive created_at")
    return purpose, version, timestamp, _unb64(path, wrapped)


def _unb64(path: Path, text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise _corrupt(path, "a wrapped key is not valid base64") from None
