"""Helpers of the audit tests for checkpoints (imported as ``tests.audit.checkpoints``):
open a log's signed notes, write an auditor's trust policy, make a witness, tamper with rows."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text

from servinfo.audit import AuditLog
from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.cosignature import Ed25519CosignatureSigner
from servinfo.audit.merkle import CompactRange
from servinfo.audit.note import open_note
from servinfo.audit.policy import TrustPolicy

#: The witness of the tests, with a fixed key: the name it cosigns as.
WITNESS = "witness.example/w1"


def opened(log: AuditLog, note: bytes) -> Checkpoint:
    """The checkpoint in ``note``, after checking the log key signed it."""
    verified, _ = open_note(note, log.log_verifiers())
    return Checkpoint.from_body(verified.text)


def witness(seed: int = 7) -> Ed25519CosignatureSigner:
    return Ed25519CosignatureSigner(
        WITNESS, Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
    )


def policy_text(log: AuditLog, witnesses: Sequence[Ed25519CosignatureSigner] = ()) -> str:
    """A tlog-policy trusting the log's keys and ``witnesses`` (quorum: all of them, or none)."""
    lines = [f"log {vkey}" for vkey in log.vkeys()]
    lines += [f"witness w{n} {w.vkey()}" for n, w in enumerate(witnesses)]
    if witnesses:
        members = " ".join(f"w{n}" for n in range(len(witnesses)))
        lines += [f"group everyone all {members}", "quorum everyone"]
    else:
        lines.append("quorum none")
    return "\n".join(lines) + "\n"


def policy(log: AuditLog, witnesses: Sequence[Ed25519CosignatureSigner] = ()) -> TrustPolicy:
    return TrustPolicy.parse(policy_text(log, witnesses))


def cosign(log: AuditLog, signer: Ed25519CosignatureSigner, size: int, timestamp: int) -> None:
    """Store ``signer``'s cosignature of the checkpoint of ``size``, as witnessing does."""
    signature = signer.cosign(opened(log, log.signed_note(size)), timestamp)
    log.add_cosignatures(size, [signature])


def execute(engine: Engine, *statements: str, **params: object) -> None:
    """Run SQL on the database directly, as whoever holds the database but not the keys."""
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), params)


def leaf_hashes(engine: Engine, end: int | None = None) -> list[bytes]:
    query = "SELECT leaf_hash FROM audit_entries ORDER BY seq"
    with engine.connect() as connection:
        hashes = [bytes(h) for h in connection.execute(text(query)).scalars()]
    return hashes if end is None else hashes[:end]


def frontier_of(hashes: Sequence[bytes]) -> CompactRange:
    frontier = CompactRange()
    frontier.extend(hashes)
    return frontier
