"""What :meth:`AuditLog.verify <servinfo.audit.log.AuditLog.verify>` checks beyond the entries
(private).

The stored checkpoints (signed by the log key, each naming the one before it,
each folding from its stored compact range), the signer's own state (its
latest checkpoint must be the latest stored), the checkpoints an auditor
saved, and the sequencing state. Each check raises at the first problem.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.errors import AuditError, CheckpointInvalid, LogTampered, NoteInvalid
from servinfo.audit.merkle import CompactRange
from servinfo.audit.note import Ed25519NoteVerifier, open_note
from servinfo.audit.signer import SignerState, previous_of
from servinfo.audit.verify import SignedRoot, VerifyReport

__all__ = [
    "check_frontier",
    "check_state",
    "checkpoint_claims",
    "stored_frontier",
    "trusted_claim",
]


def stored_frontier(stored: bytes, size: int) -> CompactRange | None:
    """The compact range stored for a tree of ``size``, or None if it is not one."""
    try:
        frontier = CompactRange.from_bytes(stored)
    except ValueError:
        return None
    return frontier if frontier.size == size else None


def check_frontier(size: int, root: bytes, stored: bytes, what: str) -> None:
    frontier = stored_frontier(stored, size)
    if frontier is None or frontier.root() != root:
        raise LogTampered(
            max(size - 1, 0),
            f"{what} {size}: its stored compact range does not fold to its signed root",
        )


def _open_checkpoint(
    note: bytes,
    verifiers: Sequence[Ed25519NoteVerifier],
    origin: str,
    what: str,
    error: Callable[[str], AuditError] = lambda message: LogTampered(0, message),
) -> Checkpoint:
    """The checkpoint in ``note``, signed by the log key for ``origin``; else ``error``."""
    try:
        opened, _ = open_note(note, verifiers)
        checkpoint = Checkpoint.from_body(opened.text)
    except (NoteInvalid, CheckpointInvalid) as failure:
        raise error(f"{what} is not signed by the log key: {failure.message}") from None
    if checkpoint.origin != origin:
        raise error(f"{what} is for the log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint


def trusted_claim(
    note: bytes, verifiers: Sequence[Ed25519NoteVerifier], origin: str, n: int
) -> SignedRoot:
    # A file that is not this log's checkpoint says nothing about the log: bad input,
    # not tampering.
    checkpoint = _open_checkpoint(
        note, verifiers, origin, f"trusted checkpoint #{n + 1}", CheckpointInvalid
    )
    return SignedRoot(
        checkpoint.size,
        checkpoint.root_hash,
        f"trusted checkpoint {checkpoint.size}",
        trusted=True,
    )


def checkpoint_claims(
    stored: Sequence[tuple[int, bytes, bytes]],
    verifiers: Sequence[Ed25519NoteVerifier],
    origin: str,
    signer: SignerState | None,
) -> list[SignedRoot]:
    """Each stored checkpoint's signed root, after checking its signature, its chain to the
    one before, its compact range, and that the signer's latest is among them."""
    claims: list[SignedRoot] = []
    previous: Checkpoint | None = None
    for size, note, frontier in stored:
        checkpoint = _open_checkpoint(note, verifiers, origin, f"checkpoint {size}")
        if checkpoint.size != size:
            raise LogTampered(0, f"checkpoint {size} is stored under the size {checkpoint.size}")
        named = previous_of(checkpoint)
        if previous is None and named is not None:
            raise LogTampered(
                0,
                f"checkpoint {size} follows a checkpoint of size {named[0]} that is no longer "
                "stored: checkpoints were deleted",
            )
        if previous is not None and named != (previous.size, previous.root_hash):
            raise LogTampered(
                previous.size,
                f"checkpoint {size} does not follow the stored checkpoint {previous.size}: "
                "a checkpoint between them was deleted, or the log forked",
            )
        check_frontier(size, checkpoint.root_hash, frontier, "checkpoint")
        claims.append(SignedRoot(size, checkpoint.root_hash, f"checkpoint {size}"))
        previous = checkpoint
    if signer is None:
        if stored:
            raise LogTampered(
                0,
                "the log has checkpoints but the signer's state is missing: restore it from "
                "the key source's backup",
            )
        return claims
    if previous is None or previous.size < signer.size:
        raise LogTampered(
            previous.size if previous else 0,
            f"the signer signed a checkpoint of size {signer.size} that the database no longer "
            "holds: checkpoints were deleted or the log was rolled back",
        )
    if previous.size > signer.size:
        raise LogTampered(
            signer.size,
            f"the database holds checkpoint {previous.size}, newer than the signer's last "
            f"({signer.size}): the signer's state was rolled back",
        )
    if stored[-1][1] != signer.note:
        raise LogTampered(
            signer.size, f"checkpoint {signer.size} is not the note the signer signed"
        )
    return claims


def check_state(report: VerifyReport, next_seq: int, state: CompactRange) -> None:
    """The sequencer's state must continue exactly the stored log."""
    count = report.entries
    if next_seq > count:
        raise LogTampered(
            count,
            f"the log ends after {count} entries but {next_seq} were appended: "
            f"entries {count}..{next_seq - 1} were removed",
        )
    if next_seq < count:
        raise LogTampered(
            next_seq, f"entries {next_seq}..{count - 1} are stored but were never appended"
        )
    if state.size != count or state.root() != report.root:
        raise LogTampered(
            report.signed_entries,
            "the sequencer's frontier does not match the stored entries after the latest "
            "checkpoint",
        )
