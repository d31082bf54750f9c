"""Tree heads signed before checkpoints: still verified, no longer signed.

Since checkpoints (:mod:`servinfo.audit.checkpoint`, C2SP signed notes with a
per-deployment origin, cosigned by witnesses) the log signs no new heads; the
heads it signed before stay in ``audit_heads`` and ``servinfo audit verify``
checks them as below. :func:`sign_tree_head` remains for tests and tools that
rebuild such heads.

A head's signed bytes are a checkpoint body in the layout of C2SP tlog-checkpoint
(https://c2sp.org/tlog-checkpoint): origin, tree size in decimal, the root hash in
standard base64, then two extension lines; every line ends in one ``\\n``::

    servinfo audit log
    1234
    3q2+7w...base64 of the 32-byte root...=
    timestamp 1735689600000
    key audit_signing:v1

The timestamp is milliseconds since the Unix epoch, chosen by the caller. The
key line binds the head to the keyring version that signed it, so a head cannot
be relabelled to another key. The signature is Ed25519 (RFC 8032) over exactly
these bytes, with the keyring's ``audit_signing`` key. This layout is stable:
changing it would orphan every head already signed.

JSON form, for the database and for auditors (bytes in standard base64)::

    {"key_id": "audit_signing:v1", "root_hash": "...", "signature": "...",
     "timestamp": 1735689600000, "tree_size": 1234}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from servinfo.audit import _codec
from servinfo.audit.errors import HeadInvalid
from servinfo.audit.merkle import HASH_SIZE

__all__ = [
    "ORIGIN",
    "PublicKeys",
    "TreeHead",
    "checkpoint_body",
    "sign_tree_head",
    "verify_tree_head",
]

#: The first line of every checkpoint body.
ORIGIN = "servinfo audit log"
#: Either the raw 32-byte Ed25519 public key, or key id -> raw key when the
#: heads span rotations of the ``audit_signing`` key.
PublicKeys: TypeAlias = bytes | Mapping[str, bytes]

_SIGNATURE_SIZE = 64
_MAX_SIZE = 2**64 - 1  # tree sizes are uint64 in RFC 9162 and C2SP
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
_WHAT = "tree head"


@dataclass(frozen=True)
class TreeHead:
    """A tree head and the signature over its :meth:`signed_bytes`.

    Building one checks the fields' shapes (:class:`HeadInvalid` otherwise),
    not the signature: that is :func:`verify_tree_head`'s job.
    """

    tree_size: int
    root_hash: bytes
    timestamp: int
    key_id: str
    signature: bytes

    def __post_init__(self) -> None:
        _check_fields(self.tree_size, self.root_hash, self.timestamp, self.key_id)
        if not isinstance(self.signature, bytes) or len(self.signature) != _SIGNATURE_SIZE:
            raise HeadInvalid(
                f"tree head {self.tree_size}: signature must be {_SIGNATURE_SIZE} bytes",
                tree_size=self.tree_size,
            )

    def signed_bytes(self) -> bytes:
        """The checkpoint body the signature covers."""
        return checkpoint_body(self.tree_size, self.root_hash, self.timestamp, self.key_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": _codec.b64(self.root_hash),
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": _codec.b64(self.signature),
        }

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> TreeHead:
        """The head :meth:`to_dict` gave; :class:`HeadInvalid` names a bad field."""
        return cls(
            tree_size=_codec.get_int(obj, "tree_size", _WHAT, HeadInvalid),
            root_hash=_codec.get_bytes(obj, "root_hash", _WHAT, HeadInvalid, size=HASH_SIZE),
            timestamp=_codec.get_int(obj, "timestamp", _WHAT, HeadInvalid),
            key_id=_codec.get_str(obj, "key_id", _WHAT, HeadInvalid),
            signature=_codec.get_bytes(obj, "signature", _WHAT, HeadInvalid, size=_SIGNATURE_SIZE),
        )

    def to_json(self) -> str:
        return _codec.dump(self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> TreeHead:
        return cls.from_dict(_codec.load_object(text, _WHAT, HeadInvalid))


def checkpoint_body(tree_size: int, root_hash: bytes, timestamp: int, key_id: str) -> bytes:
    """The bytes a tree head's signature covers (the layout in the module docstring)."""
    _check_fields(tree_size, root_hash, timestamp, key_id)
    return (
        f"{ORIGIN}\n{tree_size}\n{_codec.b64(root_hash)}\ntimestamp {timestamp}\nkey {key_id}\n"
    ).encode("ascii")


def sign_tree_head(
    signing_key: Ed25519PrivateKey, key_id: str, tree_size: int, root: bytes, timestamp_ms: int
) -> TreeHead:
    """Sign the head of a tree of ``tree_size`` leaves whose root is ``root``."""
    body = checkpoint_body(tree_size, root, timestamp_ms, key_id)
    return TreeHead(tree_size, root, timestamp_ms, key_id, signing_key.sign(body))


def verify_tree_head(head: TreeHead, public_key_bytes: PublicKeys) -> bool:
    """Whether ``head``'s signature verifies under the key for its ``key_id``.

    False, never an exception, for a wrong signature, an unknown key id or a
    malformed public key: a head that cannot be checked is not trusted.
    """
    if isinstance(public_key_bytes, bytes):
        raw: bytes | None = public_key_bytes
    else:
        raw = public_key_bytes.get(head.key_id)
    if raw is None or len(raw) != 32:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(head.signature, head.signed_bytes())
    except (InvalidSignature, ValueError):
        return False
    return True


def _check_fields(tree_size: int, root_hash: bytes, timestamp: int, key_id: str) -> None:
    if not isinstance(tree_size, int) or isinstance(tree_size, bool):
        raise HeadInvalid(f"tree size must be an integer, got {tree_size!r}")
    if not 0 <= tree_size <= _MAX_SIZE:
        raise HeadInvalid(f"tree size must be in 0..2**64-1, got {tree_size}", tree_size=tree_size)
    if not isinstance(root_hash, bytes) or len(root_hash) != HASH_SIZE:
        raise HeadInvalid(
            f"tree head {tree_size}: root hash must be {HASH_SIZE} bytes", tree_size=tree_size
        )
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp < 0:
        raise HeadInvalid(
            f"tree head {tree_size}: timestamp must be milliseconds >= 0, got {timestamp!r}",
            tree_size=tree_size,
        )
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise HeadInvalid(
            f"tree head {tree_size}: key id must be letters, digits and '_.:-', got {key_id!r}",
            tree_size=tree_size,
        )
