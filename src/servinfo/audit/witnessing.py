"""Witnessing: ask every witness of the deployment's policy to cosign the latest checkpoint.

The deployment's witness policy is a C2SP tlog-policy file
(``audit.witness_policy_file``): the witnesses with their URLs and keys, and
the quorum auditors will demand. :meth:`Witnessing.run_once` takes the
latest checkpoint and, for each witness with a URL, sends a tlog-witness
``add-checkpoint`` with a consistency proof from the size that witness last
cosigned; it keeps only cosignatures that verify with that witness's key.

A refusal is loud: a log line and ``servinfo_audit_witness_failures_total``
by witness and reason. A witness answering 409 with a size larger than the
log's latest checkpoint has seen a longer log than this one: the log was
rolled back or forked, and that is said in so many words.

It runs in the server (:class:`WitnessingThread`, woken on a timer) and on
demand (``servinfo audit witness``); appending never waits for it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.errors import AuditError, PolicyInvalid
from servinfo.audit.log import AuditLog
from servinfo.audit.metrics import COSIGNATURES, WITNESS_FAILURES
from servinfo.audit.note import Note, NoteSignature
from servinfo.audit.policy import PolicyWitness, TrustPolicy
from servinfo.audit.witness_client import (
    WitnessCallFailed,
    WitnessClient,
    WitnessConflict,
    WitnessRefused,
    WitnessUnavailable,
)
from servinfo.audit.witness_protocol import AddCheckpointRequest

__all__ = ["WitnessOutcome", "Witnessing", "WitnessingThread", "load_witness_policy"]

_logger = logging.getLogger("servinfo.audit.witnessing")

ClientFactory = Callable[[str], WitnessClient]


def load_witness_policy(path: Path) -> TrustPolicy | None:
    """The deployment's witness policy, or None when the file does not exist."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise PolicyInvalid(f"cannot read the witness policy {path.name}: {error}") from None
    return TrustPolicy.parse(text)


@dataclass(frozen=True)
class WitnessOutcome:
    """What one witness did with the latest checkpoint."""

    witness: str
    #: "cosigned", "current" (it had cosigned this size already), or the failure's reason.
    result: str
    size: int
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.result in ("cosigned", "current")


class Witnessing:
    """Submits the log's checkpoints to the witnesses of ``policy`` that have a URL."""

    def __init__(
        self,
        log: AuditLog,
        policy: TrustPolicy,
        *,
        client: ClientFactory = WitnessClient,
    ) -> None:
        self._log = log
        self._witnesses = [w for w in policy.witnesses if w.url]
        self._client = client
        # One connection per witness for the life of this object: a new client per
        # submission cost a fifth of a round (an SSL context each).
        self._clients: dict[str, WitnessClient] = {}

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> Witnessing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run_once(self) -> list[WitnessOutcome]:
        """Ask each witness to cosign the latest checkpoint; what each answered."""
        latest = self._log.latest_checkpoint()
        if latest is None or not self._witnesses:
            return []
        note = Note.parse(latest)
        checkpoint = Checkpoint.from_body(note.text)
        cosigned = self._log.cosigned_sizes()
        # Witnesses at the same size get the same request: its proof is computed once.
        requests: dict[int, AddCheckpointRequest] = {}
        outcomes, kept = [], []
        for witness in self._witnesses:
            known = cosigned.get(_key_of(witness), 0)
            if known == checkpoint.size and _has_cosignature(note, witness):
                outcomes.append(WitnessOutcome(witness.name, "current", checkpoint.size))
                continue
            outcome, signature = self._submit(witness, checkpoint, known, requests)
            if signature is not None:
                kept.append(signature)
            if not outcome.ok:
                WITNESS_FAILURES.labels(witness.name, outcome.result).inc()
                _logger.error(
                    "witness %s did not cosign checkpoint %d: %s",
                    witness.name,
                    checkpoint.size,
                    outcome.detail,
                )
            outcomes.append(outcome)
        if kept:
            self._log.add_cosignatures(checkpoint.size, kept)  # one transaction a round
        return outcomes

    def _submit(
        self,
        witness: PolicyWitness,
        checkpoint: Checkpoint,
        known: int,
        requests: dict[int, AddCheckpointRequest],
    ) -> tuple[WitnessOutcome, NoteSignature | None]:
        assert witness.url is not None
        size = checkpoint.size
        try:
            client = self._clients.get(witness.name)
            if client is None:
                client = self._clients[witness.name] = self._client(witness.url)
            try:
                signatures = client.add_checkpoint(self._request(known, size, requests))
            except WitnessConflict as conflict:
                known_here = conflict.size == 0 or conflict.size in self._log.checkpoint_sizes()
                if conflict.size > size or not known_here:
                    detail = (
                        f"the witness has cosigned a tree of {conflict.size} entries that this "
                        f"log (latest checkpoint {size}) has no checkpoint of: the log was rolled "
                        "back or forked"
                    )
                    return WitnessOutcome(witness.name, "rollback", size, detail), None
                signatures = client.add_checkpoint(self._request(conflict.size, size, requests))
        except WitnessConflict as conflict:
            return WitnessOutcome(witness.name, "conflict", size, conflict.message), None
        except WitnessUnavailable as error:
            self._drop(witness.name)  # connect afresh next round
            return WitnessOutcome(witness.name, "unavailable", size, error.message), None
        except WitnessRefused as error:
            outcome = WitnessOutcome(witness.name, f"refused_{error.status}", size, error.message)
            return outcome, None
        except (WitnessCallFailed, AuditError) as error:
            return WitnessOutcome(witness.name, "failed", size, error.message), None
        body = checkpoint.body()
        valid = [
            s
            for s in signatures
            if (s.name, s.key_id) == _key_of(witness)
            and witness.verifier.timestamp_of(body, s.signature) is not None
        ]
        if not valid:
            detail = "no cosignature verified"
            return WitnessOutcome(witness.name, "invalid_cosignature", size, detail), None
        COSIGNATURES.labels(witness.name).inc()
        return WitnessOutcome(witness.name, "cosigned", size), valid[0]

    def _drop(self, name: str) -> None:
        client = self._clients.pop(name, None)
        if client is not None:
            client.close()

    def _request(
        self, old_size: int, size: int, requests: dict[int, AddCheckpointRequest]
    ) -> AddCheckpointRequest:
        request = requests.get(old_size)
        if request is None:
            proof = () if old_size == 0 else self._log.consistency(old_size, size).proof
            request = requests[old_size] = AddCheckpointRequest(
                old_size, proof, self._log.signed_note(size)
            )
        return request


def _key_of(witness: PolicyWitness) -> tuple[str, bytes]:
    """How the witness's cosignatures name its key: ``(name, key id)``."""
    return witness.verifier.name, witness.verifier.key_id


def _has_cosignature(note: Note, witness: PolicyWitness) -> bool:
    return any((s.name, s.key_id) == _key_of(witness) for s in note.signatures)


class WitnessingThread:
    """Signs the quiet log's checkpoints and submits them to witnesses, every ``interval``
    seconds, in a daemon thread of the server.

    Every server worker runs one; ``lock_file`` (beside the signer's state) lets
    one process at a time do a round, so witnesses see each checkpoint once.
    """

    def __init__(
        self,
        log: AuditLog,
        witnessing: Witnessing | None,
        lock_file: Path,
        *,
        interval: float = 1.0,
    ) -> None:
        self._log = log
        self._witnessing = witnessing
        self._lock_file = lock_file
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="servinfo-audit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._log.checkpoint_signed.set()  # wakes the thread now
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._witnessing is not None:
            self._witnessing.close()

    def _run(self) -> None:
        signed = self._log.checkpoint_signed
        while not self._stop.is_set():
            # Woken as soon as this process signs a checkpoint (an append made one due),
            # else every interval: for a quiet log, and checkpoints other processes signed.
            signed.wait(self._interval)
            signed.clear()
            if self._stop.is_set():
                return
            try:
                self.round()
            except Exception:  # the timer must outlive one bad round; it is logged
                _logger.exception("audit checkpoint or witnessing round failed")

    def round(self) -> None:
        """Sign the tail if a checkpoint is due; submit it, unless another process is."""
        self._log.checkpoint_if_due()
        if self._witnessing is None:
            return
        fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # another worker is doing this round
            self._witnessing.run_once()
        finally:
            os.close(fd)
