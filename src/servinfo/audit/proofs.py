"""Offline proofs for auditors: an entry is in the signed log, and the log only ever grew.

An auditor holds the audit key's raw 32-byte Ed25519 public key and receives a
bundle file. Checking it needs nothing else: no database, no network, no trust
in the server that produced it. Bundles are JSON with bytes in standard base64;
the entry is carried as base64 of its stored bytes (not as nested JSON), so the
auditor hashes exactly what the log hashed::

    {"format": "servinfo-audit-inclusion", "version": 1,
     "index": 17, "entry": "<base64 or null>", "leaf_hash": "<base64>",
     "proof": ["<base64>", …], "head": {<tree head, see heads.py>}}

    {"format": "servinfo-audit-consistency", "version": 1,
     "old_head": {…}, "new_head": {…}, "proof": ["<base64>", …]}

The proofs are RFC 9162's (section 2.1.3 inclusion, 2.1.4 consistency), so the
roots and proofs can also be checked with any RFC 9162/6962 implementation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from servinfo.audit import _codec
from servinfo.audit.errors import AuditError, HeadInvalid, ProofInvalid
from servinfo.audit.heads import PublicKeys, TreeHead, verify_tree_head
from servinfo.audit.merkle import (
    HASH_SIZE,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "ConsistencyBundle",
    "InclusionBundle",
    "build_consistency_bundle",
    "build_inclusion_bundle",
    "verify_consistency_bundle",
    "verify_inclusion_bundle",
]

_INCLUSION = "servinfo-audit-inclusion"
_CONSISTENCY = "servinfo-audit-consistency"
_VERSION = 1


@dataclass(frozen=True)
class InclusionBundle:
    """Entry ``index`` (its stored bytes, or only its leaf hash) is in the tree ``head`` signs."""

    index: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    head: TreeHead
    entry: bytes | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": _INCLUSION,
            "version": _VERSION,
            "index": self.index,
            "entry": None if self.entry is None else _codec.b64(self.entry),
            "leaf_hash": _codec.b64(self.leaf_hash),
            "proof": [_codec.b64(h) for h in self.proof],
            "head": self.head.to_dict(),
        }

    def to_json(self) -> str:
        return _codec.dump(self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> InclusionBundle:
        """The bundle :meth:`to_json` wrote; :class:`ProofInvalid` names a malformed field."""
        what = "inclusion bundle"
        obj = _codec.load_object(text, what, ProofInvalid)
        _check_format(obj, _INCLUSION, what)
        raw_entry = obj.get("entry")
        return cls(
            index=_codec.get_int(obj, "index", what, ProofInvalid),
            leaf_hash=_codec.get_bytes(obj, "leaf_hash", what, ProofInvalid, size=HASH_SIZE),
            proof=_codec.get_hash_list(obj, "proof", what, ProofInvalid, size=HASH_SIZE),
            head=_head(obj, "head", what),
            entry=None
            if raw_entry is None
            else _codec.decode_b64(raw_entry, "'entry'", what, ProofInvalid),
        )


@dataclass(frozen=True)
class ConsistencyBundle:
    """The tree ``old_head`` signs is a prefix of the tree ``new_head`` signs."""

    old_head: TreeHead
    new_head: TreeHead
    proof: tuple[bytes, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": _CONSISTENCY,
            "version": _VERSION,
            "old_head": self.old_head.to_dict(),
            "new_head": self.new_head.to_dict(),
            "proof": [_codec.b64(h) for h in self.proof],
        }

    def to_json(self) -> str:
        return _codec.dump(self.to_dict())

    @classmethod
    def from_json(cls, text: str | bytes) -> ConsistencyBundle:
        """The bundle :meth:`to_json` wrote; :class:`ProofInvalid` names a malformed field."""
        what = "consistency bundle"
        obj = _codec.load_object(text, what, ProofInvalid)
        _check_format(obj, _CONSISTENCY, what)
        return cls(
            old_head=_head(obj, "old_head", what),
            new_head=_head(obj, "new_head", what),
            proof=_codec.get_hash_list(obj, "proof", what, ProofInvalid, size=HASH_SIZE),
        )


def build_inclusion_bundle(
    leaf_hashes: Sequence[bytes], index: int, head: TreeHead, entry: bytes | None = None
) -> InclusionBundle:
    """Prove entry ``index`` against ``head``, from the log's leaf hashes (at least ``head``'s).

    Checks the proof before returning it: a log that no longer matches its own
    head gives an :class:`AuditError`, not a bundle that fails at the auditor.
    """
    size = head.tree_size
    if not 0 <= index < size:
        raise AuditError(f"entry {index} is not covered by tree head {size}")
    if len(leaf_hashes) < size:
        raise AuditError(f"tree head {size} covers more than the {len(leaf_hashes)} entries given")
    leaf = leaf_hashes[index]
    if entry is not None and leaf_hash(entry) != leaf:
        raise AuditError(f"entry {index}: stored bytes do not hash to its stored leaf hash")
    proof = inclusion_proof(leaf_hashes[:size], index)
    if not verify_inclusion(index, size, leaf, proof, head.root_hash):
        raise AuditError(
            f"entry {index}: the log does not match tree head {size}; run 'servinfo audit verify'"
        )
    return InclusionBundle(index, leaf, tuple(proof), head, entry)


def build_consistency_bundle(
    leaf_hashes: Sequence[bytes], old_head: TreeHead, new_head: TreeHead
) -> ConsistencyBundle:
    """Prove ``old_head``'s tree is a prefix of ``new_head``'s, from the log's leaf hashes."""
    old, new = old_head.tree_size, new_head.tree_size
    if old > new:
        raise AuditError(f"tree head {old} is larger than tree head {new}")
    if len(leaf_hashes) < new:
        raise AuditError(f"tree head {new} covers more than the {len(leaf_hashes)} entries given")
    proof = consistency_proof(leaf_hashes[:new], old)
    if not verify_consistency(old, new, old_head.root_hash, new_head.root_hash, proof):
        raise AuditError(
            f"tree heads {old} and {new} do not match the log; run 'servinfo audit verify'"
        )
    return ConsistencyBundle(old_head, new_head, tuple(proof))


def verify_inclusion_bundle(bundle: InclusionBundle, public_key_bytes: PublicKeys) -> None:
    """Check ``bundle`` as an auditor would; :class:`ProofInvalid` names the failed step."""
    head, index = bundle.head, bundle.index
    # (1) The tree head is signed by the audit key.
    if not verify_tree_head(head, public_key_bytes):
        raise ProofInvalid(f"signature on tree head {head.tree_size} does not verify")
    # (2) The entry's stored bytes, when given, are the leaf being proven.
    if bundle.entry is not None and leaf_hash(bundle.entry) != bundle.leaf_hash:
        raise ProofInvalid(f"entry {index}: its bytes do not hash to the bundle's leaf hash")
    # (3) The entry lies inside the signed tree.
    if index >= head.tree_size:
        raise ProofInvalid(f"entry {index} is outside tree head {head.tree_size}")
    # (4) The path leads from the leaf to the signed root.
    if not verify_inclusion(index, head.tree_size, bundle.leaf_hash, bundle.proof, head.root_hash):
        raise ProofInvalid(
            f"inclusion proof for entry {index} does not lead to the signed root "
            f"of tree head {head.tree_size}"
        )


def verify_consistency_bundle(bundle: ConsistencyBundle, public_key_bytes: PublicKeys) -> None:
    """Check that the log only grew between two heads; :class:`ProofInvalid` names the step."""
    old, new = bundle.old_head, bundle.new_head
    # (1) Both heads are signed by the audit key.
    for head in (old, new):
        if not verify_tree_head(head, public_key_bytes):
            raise ProofInvalid(f"signature on tree head {head.tree_size} does not verify")
    # (2) The log did not shrink.
    if old.tree_size > new.tree_size:
        raise ProofInvalid(
            f"tree head {new.tree_size} is smaller than the earlier tree head {old.tree_size}"
        )
    # (3) The old tree is a prefix of the new one.
    if not verify_consistency(
        old.tree_size, new.tree_size, old.root_hash, new.root_hash, bundle.proof
    ):
        raise ProofInvalid(
            f"consistency proof from tree head {old.tree_size} to tree head {new.tree_size} "
            "does not verify: the log was rewritten, or the proof is wrong"
        )


def _check_format(obj: Mapping[str, Any], expected: str, what: str) -> None:
    if obj.get("format") != expected:
        raise ProofInvalid(
            f"malformed {what}: format is {obj.get('format')!r}, expected {expected!r}"
        )
    version = obj.get("version")
    if isinstance(version, bool) or version != _VERSION:
        raise ProofInvalid(f"malformed {what}: version is {version!r}, expected {_VERSION}")


def _head(obj: Mapping[str, Any], key: str, what: str) -> TreeHead:
    """A nested tree head; its problems are reported as the bundle's."""
    head = _codec.as_object(obj.get(key), f"{what} {key!r}", ProofInvalid)
    try:
        return TreeHead.from_dict(head)
    except HeadInvalid as exc:
        raise ProofInvalid(f"malformed {what}: {key!r}: {exc.message}") from None
