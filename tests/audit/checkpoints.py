"""Helpers of the audit tests for checkpoints (imported as ``tests.audit.checkpoints``):
open a log's signed notes, write an auditor's trust policy, make a witness, tamper with rows."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text

from servinfo.audit import AuditLog
from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.cosignature import Ed25519CosignatureSigner
from servinfo.audit.merkle import CompactRange, leaf_hash
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


def stored_rows(engine: Engine) -> list[tuple[int, bytes, bytes]]:
    """Every stored entry ``(seq, bytes, leaf hash)``, in seq order."""
    query = "SELECT seq, entry, leaf_hash FROM audit_entries ORDER BY seq"
    with engine.connect() as connection:
        rows = connection.execute(text(query)).all()
    return [(int(seq), bytes(data), bytes(digest)) for seq, data, digest in rows]


def leaf_hashes(engine: Engine, end: int | None = None) -> list[bytes]:
    query = "SELECT leaf_hash FROM audit_entries ORDER BY seq"
    with engine.connect() as connection:
        hashes = [bytes(h) for h in connection.execute(text(query)).scalars()]
    return hashes if end is None else hashes[:end]


def frontier_of(hashes: Sequence[bytes]) -> CompactRange:
    frontier = CompactRange()
    frontier.extend(hashes)
    return frontier


def stored_entry(engine: Engine, seq: int) -> bytes:
    with engine.connect() as connection:
        row = connection.execute(
            text("SELECT entry FROM audit_entries WHERE seq = :seq"), {"seq": seq}
        ).scalar_one()
    return bytes(row)


def rewrite_entry(engine: Engine, seq: int, *, rehash: bool = True) -> None:
    """Entry ``seq`` says something else; with ``rehash`` its leaf hash agrees."""
    data = stored_entry(engine, seq)
    forged = data.replace(b'"rows":%d' % seq, b'"rows":%d' % (seq + 1000))
    assert forged != data
    params: dict[str, object] = {"seq": seq, "entry": forged, "hash": leaf_hash(forged)}
    if rehash:
        execute(
            engine,
            "UPDATE audit_entries SET entry = :entry, leaf_hash = :hash WHERE seq = :seq",
            **params,
        )
    else:
        execute(engine, "UPDATE audit_entries SET entry = :entry WHERE seq = :seq", **params)


def recompute_state(engine: Engine) -> None:
    """What a database writer without the keys can do: next seq and frontier from the rows."""
    hashes = leaf_hashes(engine)
    execute(
        engine,
        "UPDATE audit_state SET next_seq = :n, frontier = :frontier",
        n=len(hashes),
        frontier=frontier_of(hashes).to_bytes(),
    )
