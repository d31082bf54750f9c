"""The witness's one decision: cosign a checkpoint, or say which rule of tlog-witness it breaks.

:meth:`Witness.add_checkpoint` implements ``add-checkpoint`` of
``c2sp.org/tlog-witness``. A log sends the checkpoint it just signed, the size
of the checkpoint this witness last cosigned for it, and a consistency proof
between the two; the witness checks, in this order:

0. the body is an add-checkpoint request and its checkpoint a signed note with
   a checkpoint text (else 400);
1. the origin is a log the witness follows (else 404);
2. a signature by one of the log's keys verifies, and none by those keys fails
   (else 403); signatures by other keys are ignored;
3. the old size is at most the checkpoint's size (else 400);
4. the old size is the size last cosigned, 0 if none was (else 409 with that
   size, so the log can retry with the right proof);
5. a checkpoint of size 0 has the empty tree's root (else 422);
6. the proof shows the stored tree is a prefix of the new one: empty from size 0,
   empty and the same root at the same size (a second root at a size already
   cosigned is a fork), RFC 6962 consistency otherwise (else 422);
7. it cosigns, then records the checkpoint with a compare-and-swap on the state
   it checked against (:meth:`~servinfo.witness.store.WitnessStore.advance`),
   and only once that is committed returns the cosignatures. A concurrent
   request that advanced first makes the swap fail: 409, and these
   cosignatures are dropped unseen.

So the witness never cosigns a smaller tree (3, 4), a second branch (6), or a
replay of a checkpoint older than its state (3, 4), and never returns a
cosignature for a state it did not persist. A request that fails 5 or 6 with a
valid log signature may be evidence of a misbehaving log: it is logged, and kept
with the checkpoint cosigned at the time (``WitnessStore.keep_evidence``).

Every cosignature's timestamp is the clock's time, never less than the last one
given for the log (the statement "as of this time, this is the largest tree"
must not go back in time when the clock does) and never zero.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import NoReturn

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.errors import AuditError, NoteInvalid
from servinfo.audit.merkle import EMPTY_ROOT, verify_consistency
from servinfo.audit.note import Note, NoteSignature, open_note, parse_vkey
from servinfo.audit.witness_protocol import AddCheckpointRequest
from servinfo.witness.errors import (
    Inconsistent,
    RequestMalformed,
    SignatureRejected,
    SizeConflict,
    UnknownLog,
)
from servinfo.witness.keys import WitnessKeys
from servinfo.witness.store import MAX_TREE_SIZE, LogState, TrustedLog, WitnessStore

__all__ = ["Clock", "Witness", "system_clock"]

#: Seconds since the epoch, as the cosignatures' timestamps; injected by tests.
Clock = Callable[[], int]

_log = logging.getLogger("servinfo.witness")


def system_clock() -> int:
    """The system time in whole seconds since the epoch."""
    return int(time.time())


class Witness:
    """A witness: its keys, its state, and the add-checkpoint rules between them."""

    def __init__(
        self, store: WitnessStore, keys: WitnessKeys, *, clock: Clock = system_clock
    ) -> None:
        self.store = store
        self.keys = keys
        self._signers = keys.signers()
        self._clock = clock

    @property
    def name(self) -> str:
        """The witness's name, the key name of its cosignatures."""
        return self.keys.name

    def vkeys(self) -> list[str]:
        """The verifier keys of the witness's cosignatures."""
        return self.keys.vkeys()

    def add_checkpoint(self, body: bytes) -> list[NoteSignature]:
        """Answer an add-checkpoint request body: the cosignatures, or a :class:`WitnessError`."""
        try:
            request = AddCheckpointRequest.parse(body)
        except AuditError as error:
            raise RequestMalformed(f"not an add-checkpoint request: {error.message}") from None
        return self.add(request)

    def add(self, request: AddCheckpointRequest) -> list[NoteSignature]:
        """Check ``request`` by the steps of the module docstring; cosign and record it."""
        # (0) A signed note whose text is a checkpoint the state can hold.
        try:
            checkpoint_note = Note.parse(request.checkpoint)
            checkpoint = Checkpoint.from_body(checkpoint_note.text)
        except AuditError as error:
            raise RequestMalformed(f"not a signed checkpoint: {error.message}") from None
        if checkpoint.size > MAX_TREE_SIZE:
            raise RequestMalformed(f"tree size {checkpoint.size} exceeds {MAX_TREE_SIZE}")
        # (1) A log this witness follows.
        log = self.store.log(checkpoint.origin)
        if log is None:
            raise UnknownLog(f"this witness follows no log {checkpoint.origin!r}")
        # (2) Signed by the log.
        log_signatures = self._verify_log_signature(log, request.checkpoint)
        state = log.state
        # (3) A size that does not go back.
        if request.old_size > checkpoint.size:
            raise RequestMalformed(
                f"old size {request.old_size} exceeds the checkpoint's size {checkpoint.size}"
            )
        # (4) From the size last cosigned.
        if request.old_size != state.size:
            raise SizeConflict(log.origin, request.old_size, state.size)
        # (5), (6) An append-only extension of what was cosigned.
        self._check_consistency(state, checkpoint, request)
        # (7) Cosign, record if the state is still the one checked, then answer.
        timestamp = max(self._clock(), state.cosigned_at or 0, 1)
        cosignatures = [signer.cosign(checkpoint, timestamp) for signer in self._signers]
        stored = Note(checkpoint_note.text, (*log_signatures, *cosignatures))
        self.store.advance(
            log.origin,
            expected_size=state.size,
            expected_root=state.root,
            size=checkpoint.size,
            root=checkpoint.root_hash,
            note=stored.to_bytes(),
            cosigned_at=timestamp,
        )
        _log.info("log %r: cosigned size %d (from %d)", log.origin, checkpoint.size, state.size)
        return cosignatures

    def latest(self, origin: str) -> bytes | None:
        """The last checkpoint cosigned for ``origin``, as a note with every signature kept."""
        log = self.store.log(origin)
        return None if log is None else log.state.note

    def _verify_log_signature(self, log: TrustedLog, data: bytes) -> tuple[NoteSignature, ...]:
        verifiers = []
        for vkey in log.vkeys:
            try:
                verifiers.append(parse_vkey(vkey))
            except NoteInvalid:
                # add-log checks every key; one that no longer parses (edited state)
                # must not let the others stop verifying.
                _log.error("log %r: skipping an unreadable verifier key", log.origin)
        try:
            _, verified = open_note(data, verifiers)
        except NoteInvalid as error:
            raise SignatureRejected(f"log {log.origin!r}: {error.message}") from None
        return tuple(verified)

    def _check_consistency(
        self, state: LogState, checkpoint: Checkpoint, request: AddCheckpointRequest
    ) -> None:
        old_size, size, proof = state.size, checkpoint.size, request.proof
        if size == 0 and checkpoint.root_hash != EMPTY_ROOT:
            self._inconsistent(state, request, "a tree of size 0 must have the empty root")
        if old_size == 0:
            # The empty tree is a prefix of every tree, whatever was cosigned at size 0.
            if proof:
                self._inconsistent(state, request, "from size 0 the proof must be empty")
            return
        assert state.root is not None  # a size above 0 was cosigned with its root
        if size == old_size and checkpoint.root_hash != state.root:
            self._inconsistent(state, request, f"a different root at size {size}, already cosigned")
        if not verify_consistency(old_size, size, state.root, checkpoint.root_hash, proof):
            self._inconsistent(
                state, request, f"the consistency proof from {old_size} to {size} fails"
            )

    def _inconsistent(
        self, state: LogState, request: AddCheckpointRequest, reason: str
    ) -> NoReturn:
        # Signed by the log (checked before) yet inconsistent with what the witness
        # cosigned: possibly a fork. tlog-witness lets the witness keep it; it is
        # kept with the checkpoint cosigned then, so that the pair proves itself.
        kept = self.store.keep_evidence(
            state.origin,
            received_at=self._clock(),
            reason=reason,
            note=request.checkpoint,
            cosigned_note=state.note,
        )
        _log.warning(
            "log %r: refused a checkpoint it signed (%s); cosigned size %d root %s; %s",
            state.origin,
            reason,
            state.size,
            state.root.hex() if state.root else "-",
            "kept as evidence" if kept else "evidence already full, not kept",
        )
        raise Inconsistent(f"log {state.origin!r}: {reason}")
