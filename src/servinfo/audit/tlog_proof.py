"""Offline proofs of logging, C2SP tlog-proof (``c2sp.org/tlog-proof@v1``).

A tlog-proof is everything an auditor needs to check, with no network, that an
entry is in the log and that the log showed the same tree to the witnesses::

    c2sp.org/tlog-proof@v1
    extra <base64>                 optional, unauthenticated context
    index 1234                     the entry's zero-based index
    <base64 hash>                  the inclusion proof, leaf's sibling first
    ...
                                   an empty line
    <the cosigned checkpoint, verbatim>

:meth:`TlogProof.verify` runs the spec's steps: (1) the caller computes the leaf
hash; (2) the checkpoint's origin is a log of the policy and that log signed it;
(3) the witnesses' valid cosignatures satisfy the policy's quorum; (4) the
inclusion proof binds the leaf hash to the checkpoint's root. Any failure raises
:class:`ProofInvalid` naming the step. Parsing is strict and fails closed the same
way: canonical decimals and base64, 32-byte hashes, at most 64 of them, and a
checkpoint that is a well-formed signed note.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.errors import (
    CheckpointInvalid,
    NoteInvalid,
    ProofInvalid,
    QuorumNotMet,
)
from servinfo.audit.merkle import HASH_SIZE, verify_inclusion
from servinfo.audit.note import MAX_NOTE_SIZE, Note, decode_base64, excerpt
from servinfo.audit.policy import TrustPolicy, VerifiedCheckpoint

__all__ = ["HEADER", "MAX_EXTRA_SIZE", "MAX_PROOF_HASHES", "TlogProof"]

#: The first line of every tlog-proof.
HEADER = "c2sp.org/tlog-proof@v1"
#: An inclusion proof in a tree of at most 2^64 - 1 leaves has at most 64 hashes.
MAX_PROOF_HASHES = 64
#: The most extra data accepted, in bytes (before base64).
MAX_EXTRA_SIZE = 64 * 1024

_MAX_INDEX = 2**64 - 2
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
_MAX_TEXT = MAX_NOTE_SIZE + 2 * MAX_EXTRA_SIZE + MAX_PROOF_HASHES * 64


@dataclass(frozen=True)
class TlogProof:
    """An entry's index, its inclusion proof, and the cosigned checkpoint it leads to.

    ``checkpoint`` is the signed note, verbatim; ``extra`` is opaque, unauthenticated
    context (``None`` when absent, never empty).
    """

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: bytes
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise ProofInvalid("tlog-proof index is not an integer")
        if not 0 <= self.index <= _MAX_INDEX:
            raise ProofInvalid(f"tlog-proof index {self.index} is outside 0..2^64-2")
        if not isinstance(self.hashes, tuple) or len(self.hashes) > MAX_PROOF_HASHES:
            raise ProofInvalid(f"an inclusion proof is a tuple of at most {MAX_PROOF_HASHES}")
        if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in self.hashes):
            raise ProofInvalid(f"every inclusion proof hash must be {HASH_SIZE} bytes")
        if self.extra is not None and not 0 < len(self.extra) <= MAX_EXTRA_SIZE:
            raise ProofInvalid(f"extra data must be 1..{MAX_EXTRA_SIZE} bytes, or absent")
        try:
            Checkpoint.from_body(Note.parse(self.checkpoint).text)
        except (NoteInvalid, CheckpointInvalid) as exc:
            raise ProofInvalid(f"tlog-proof checkpoint is malformed: {exc.message}") from None

    @classmethod
    def build(
        cls,
        leaf_hash: bytes,
        index: int,
        inclusion_proof: Sequence[bytes],
        checkpoint: bytes,
        extra: bytes | None = None,
    ) -> TlogProof:
        """A proof for the entry ``leaf_hash`` at ``index``, checked before it is returned.

        The inclusion proof must lead from the leaf to the checkpoint's root
        (:class:`ProofInvalid` otherwise), so a log never hands out a proof that
        cannot verify. Signatures are not checked here: that needs a policy.
        """
        proof = cls(index, tuple(inclusion_proof), checkpoint, extra)
        proof._check_inclusion(leaf_hash, proof.parsed_checkpoint())
        return proof

    def parsed_checkpoint(self) -> Checkpoint:
        """The checkpoint's fields (signatures not verified)."""
        return Checkpoint.from_body(Note.parse(self.checkpoint).text)

    def to_text(self) -> str:
        """The tlog-proof file."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines += [base64.b64encode(h).decode() for h in self.hashes]
        return "\n".join(lines) + "\n\n" + self.checkpoint.decode("utf-8")

    @classmethod
    def parse(cls, text: str | bytes) -> TlogProof:
        """The proof a tlog-proof file holds; :class:`ProofInvalid` if it is not one."""
        if isinstance(text, bytes):
            if len(text) > _MAX_TEXT:
                raise ProofInvalid(f"tlog-proof of {len(text)} bytes is too large")
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise ProofInvalid("tlog-proof is not valid UTF-8") from None
        if not isinstance(text, str):
            raise ProofInvalid("a tlog-proof is text")
        if len(text) > _MAX_TEXT:
            raise ProofInvalid(f"tlog-proof of {len(text)} characters is too large")
        head, blank, checkpoint = text.partition("\n\n")
        if not blank:
            raise ProofInvalid("tlog-proof has no empty line before its checkpoint")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise ProofInvalid(f"tlog-proof does not start with {HEADER}: {excerpt(lines[0])}")
        rest = lines[1:]
        extra = None
        if rest and rest[0].startswith("extra "):
            extra = _base64(rest.pop(0)[len("extra ") :], "extra data")
        if not rest or not rest[0].startswith("index "):
            raise ProofInvalid("tlog-proof lacks its index line")
        index_text = rest.pop(0)[len("index ") :]
        if _DECIMAL.fullmatch(index_text) is None:
            raise ProofInvalid(f"tlog-proof index is not a decimal: {excerpt(index_text)}")
        if len(rest) > MAX_PROOF_HASHES:
            raise ProofInvalid(f"inclusion proof has more than {MAX_PROOF_HASHES} hashes")
        hashes = tuple(_base64(line, "inclusion proof hash") for line in rest)
        try:
            encoded = checkpoint.encode("utf-8")
        except UnicodeEncodeError:
            raise ProofInvalid("tlog-proof is not valid UTF-8") from None
        return cls(int(index_text), hashes, encoded, extra)

    def verify(self, leaf_hash: bytes, policy: TrustPolicy) -> VerifiedCheckpoint:
        """Check this proof for the entry ``leaf_hash`` under ``policy``: the four steps above."""
        # (1) The leaf hash is the caller's: it must at least be a hash.
        if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
            raise ProofInvalid(f"step 1 (leaf hash): expected {HASH_SIZE} bytes")
        # (2) + (3) Origin, log signature and witness quorum.
        try:
            verified = policy.verify_checkpoint(self.checkpoint)
        except QuorumNotMet as exc:
            raise ProofInvalid(f"step 3 (witness quorum): {exc.message}") from exc
        except (NoteInvalid, CheckpointInvalid) as exc:
            raise ProofInvalid(f"step 2 (origin and log signature): {exc.message}") from exc
        # (4) The entry is in the tree the checkpoint commits to.
        self._check_inclusion(leaf_hash, verified.checkpoint)
        return verified

    def _check_inclusion(self, leaf_hash: bytes, checkpoint: Checkpoint) -> None:
        if self.index >= checkpoint.size:
            raise ProofInvalid(
                f"step 4 (inclusion): index {self.index} is outside the tree of "
                f"size {checkpoint.size}"
            )
        if not verify_inclusion(
            self.index, checkpoint.size, leaf_hash, self.hashes, checkpoint.root_hash
        ):
            raise ProofInvalid(
                f"step 4 (inclusion): the proof does not lead from entry {self.index} "
                f"to the root of the tree of size {checkpoint.size}"
            )


def _base64(value: str, what: str) -> bytes:
    try:
        raw = decode_base64(value, what=what)
    except NoteInvalid as exc:
        raise ProofInvalid(exc.message) from None
    if what == "inclusion proof hash" and len(raw) != HASH_SIZE:
        raise ProofInvalid(f"an inclusion proof hash has {HASH_SIZE} bytes, got {len(raw)}")
    return raw
