"""The checkpoint signer signs only trees that extend the last checkpoint it signed.

Its memory is a file beside the key material: a crash between saving it and
storing the checkpoint row is repaired, a file that is not this log key's is
refused, and two processes signing at once never sign two different trees.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.audit.checkpoints import execute, frontier_of, leaf_hashes, opened
from tests.audit.support import ORIGIN, AuditBackend, FakeClock, event

from servinfo.audit import AuditLog, CompactRange, LogTampered, leaf_hash
from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.note import Ed25519NoteSigner, Ed25519NoteVerifier, Note
from servinfo.audit.signer import (
    CheckpointSigner,
    SignerRefused,
    SignerState,
    SignerStateInvalid,
    previous_of,
)
from servinfo.crypto import Keyring, LocalMasterKeyWrapper
from servinfo.store import create_engine_for


def _signer(path: Path, key: Ed25519PrivateKey, origin: str = ORIGIN) -> CheckpointSigner:
    note_signer = Ed25519NoteSigner(origin, key)
    return CheckpointSigner(path, origin, lambda: note_signer, lambda: [note_signer.verifier()])


def _leaves(count: int, start: int = 0) -> list[bytes]:
    return [leaf_hash(b"entry %d" % i) for i in range(start, start + count)]


# -- the signer on its own ----------------------------------------------------------------


def test_the_signer_signs_only_trees_that_extend_its_last(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    signer = _signer(tmp_path / "state.json", signing_key)
    leaves = _leaves(12)
    with signer.session() as last:
        assert last is None
        first = signer.sign(None, leaves[:5], frontier_of(leaves[:5]))
    with signer.session() as last:
        assert last == first
        second = signer.sign(last, leaves[5:], frontier_of(leaves))
    assert signer.state() == second
    assert previous_of(opened_note(second)) == (5, frontier_of(leaves[:5]).root())
    # A tree whose first five leaves differ from what was signed: refused, state kept.
    forged = [leaf_hash(b"forged"), *leaves[1:], *_leaves(3, 100)]
    for stored in (frontier_of(forged), frontier_of(leaves[:8])):
        with signer.session() as last, pytest.raises(SignerRefused, match="size 12"):
            signer.sign(last, forged[12 : stored.size] if stored.size > 12 else [], stored)
    assert signer.state() == second


def opened_note(state: SignerState) -> Checkpoint:
    checkpoint = Checkpoint.from_body(Note.parse(state.note).text)
    assert (checkpoint.size, checkpoint.root_hash) == (state.size, state.frontier.root())
    return checkpoint


# -- refusals through the log -------------------------------------------------------------


def test_the_log_refuses_to_sign_a_rewritten_history(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    """Entries before the last checkpoint rewritten and the sequencing state recomputed: with
    the state's MAC recomputed too (as only the key holder could), the signer still refuses."""
    audit_log.record_many(event(i) for i in range(10))
    signed = audit_log.signer_state()
    assert signed is not None
    execute(
        audit_backend.engine,
        "UPDATE audit_entries SET leaf_hash = :forged WHERE seq = 3",
        forged=leaf_hash(b"forged"),
    )
    frontier = frontier_of(leaf_hashes(audit_backend.engine))
    # Without the MAC key: the state's MAC fails first.
    execute(
        audit_backend.engine,
        "UPDATE audit_state SET frontier = :frontier",
        frontier=frontier.to_bytes(),
    )
    with pytest.raises(LogTampered, match="MAC"):
        audit_log.checkpoint()
    # With it (a test-only call to the log's own MAC): the signer's memory refuses.
    mac = audit_log._state_mac(10, frontier.to_bytes())
    execute(audit_backend.engine, "UPDATE audit_state SET mac = :mac", mac=mac)
    with pytest.raises(SignerRefused, match="does not extend the checkpoint of size 10"):
        audit_log.checkpoint()
    assert audit_log.signer_state() == signed
    assert audit_log.checkpoint_sizes() == [10]


def test_a_refusal_never_fails_the_append_before_it(
    audit_log: AuditLog, audit_backend: AuditBackend, signer_state_file: Path
) -> None:
    audit_log.record_many(event(i) for i in range(10))
    signer_state_file.unlink()  # the state is lost: nothing may be signed until it is restored
    with pytest.raises(SignerRefused, match="state is missing"):
        audit_log.checkpoint()
    assert audit_log.sign_or_report() is None
    assert audit_log.record_many(event(i) for i in range(10, 20)) == range(10, 20)
    assert audit_log.checkpoint_sizes() == [10]
    with pytest.raises(LogTampered, match="signer's state is missing"):
        audit_log.verify()


# -- a crash between the state file and the checkpoint row ----------------------------------


class _Crash(Exception):
    pass


def _crash_once(log: AuditLog, monkeypatch: pytest.MonkeyPatch) -> None:
    """The next checkpoint row is lost: the process dies after the signer saved its state."""

    def crash(state: SignerState) -> None:
        monkeypatch.undo()
        raise _Crash

    monkeypatch.setattr(log, "_store_checkpoint", crash)


def test_a_crash_after_the_state_was_saved_is_repaired_by_the_next_checkpoint(
    audit_log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit_log.record_many(event(i) for i in range(5))
    _crash_once(audit_log, monkeypatch)
    with pytest.raises(_Crash):
        audit_log.checkpoint()
    state = audit_log.signer_state()
    assert state is not None
    assert state.size == 5
    assert audit_log.checkpoint_sizes() == []
    with pytest.raises(LogTampered, match="no longer holds"):
        audit_log.verify()
    assert audit_log.checkpoint() == state.note  # the same checkpoint, now stored
    assert audit_log.checkpoint_sizes() == [5]
    assert audit_log.verify().checkpoints == 1


def test_a_crash_repaired_after_more_appends_keeps_the_chain(
    audit_log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lost row is the one the next checkpoint names as its previous: both are stored."""
    audit_log.record_many(event(i) for i in range(5))
    _crash_once(audit_log, monkeypatch)
    with pytest.raises(_Crash):
        audit_log.checkpoint()
    audit_log.record_many(event(i) for i in range(5, 8))
    latest = opened(audit_log, audit_log.checkpoint())
    assert latest.size == 8
    assert audit_log.checkpoint_sizes() == [5, 8]
    assert audit_log.verify().checkpoints == 2


# -- a state file that is not this log key's ----------------------------------------------


def _signed_state(audit_log: AuditLog, signer_state_file: Path) -> dict[str, object]:
    audit_log.record_many(event(i) for i in range(10))
    document = json.loads(signer_state_file.read_text())
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda d: b"", id="empty"),
        pytest.param(lambda d: b"\x00\xff" * 100, id="binary"),
        pytest.param(lambda d: json.dumps(d).encode()[:-20], id="truncated"),
        pytest.param(lambda d: b"[" * 100_000, id="deeply-nested"),
        pytest.param(lambda d: b" " * (2 << 20), id="too-large"),
        pytest.param(lambda d: json.dumps({**d, "version": 2}).encode(), id="version"),
        pytest.param(lambda d: json.dumps({**d, "frontier": "!!"}).encode(), id="frontier-base64"),
        pytest.param(
            lambda d: json.dumps(
                {**d, "frontier": _b64(CompactRange(10, [bytes(32)] * 2).to_bytes())}
            ).encode(),
            id="frontier-not-the-note",
        ),
        pytest.param(
            lambda d: json.dumps({**d, "note": str(d["note"]).replace("10\n", "11\n", 1)}).encode(),
            id="note-edited",
        ),
        pytest.param(
            lambda d: json.dumps({**d, "origin": "other.example/log"}).encode(), id="origin"
        ),
    ],
)
def test_a_corrupt_state_file_is_refused(
    audit_log: AuditLog, signer_state_file: Path, corrupt: object
) -> None:
    document = _signed_state(audit_log, signer_state_file)
    signer_state_file.write_bytes(corrupt(document))  # type: ignore[operator]
    with pytest.raises(SignerStateInvalid):
        audit_log.checkpoint()
    with pytest.raises(SignerStateInvalid):
        audit_log.verify()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_a_state_file_of_another_log_is_refused(
    audit_backend: AuditBackend,
    keyring: Keyring,
    clock: FakeClock,
    signer_state_file: Path,
    audit_log: AuditLog,
) -> None:
    audit_log.record_many(event(i) for i in range(10))
    other = AuditLog(
        audit_backend.engine,
        keyring,
        signer_state_file=signer_state_file,
        origin="other.example/servinfo/else",
        clock=clock,
    )
    with pytest.raises(SignerStateInvalid):
        other.checkpoint()


def test_a_state_file_signed_by_another_key_is_refused(
    audit_log: AuditLog, signer_state_file: Path, other_key: Ed25519PrivateKey
) -> None:
    """A state a forger wrote, well formed and self-consistent, but not signed by the log key."""
    audit_log.record_many(event(i) for i in range(10))
    signer_state_file.unlink()
    forger = _signer(signer_state_file, other_key)
    hashes = leaf_hashes(audit_log.engine)
    with forger.session() as last:
        forger.sign(last, hashes, frontier_of(hashes))
    with pytest.raises(SignerStateInvalid, match="did not sign"):
        audit_log.checkpoint()
    with pytest.raises(SignerStateInvalid, match="did not sign"):
        audit_log.verify()
    assert Ed25519NoteVerifier(ORIGIN, other_key.public_key().public_bytes_raw()).vkey() not in (
        audit_log.vkeys()
    )


# -- two processes signing at once ----------------------------------------------------------

ROUNDS = 25


def _sign_concurrently(
    url: str, keyring_path: str, state_file: Path, worker: int, barrier: object
) -> None:
    """Runs in a spawned process: appends and signs after every batch."""
    keyring = Keyring.open(Path(keyring_path), LocalMasterKeyWrapper(bytes(range(32))))
    engine = create_engine_for(url)
    log = AuditLog(
        engine, keyring, signer_state_file=state_file, origin=ORIGIN, checkpoint_every_entries=1
    )
    barrier.wait()  # type: ignore[attr-defined]
    for n in range(ROUNDS):
        log.record_many(event(worker * 1000 + n * 2 + i) for i in range(2))
        log.checkpoint()
    engine.dispose()


def test_two_processes_signing_at_once_never_fork(
    audit_log: AuditLog, audit_backend: AuditBackend, keyring: Keyring, signer_state_file: Path
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [
        context.Process(
            target=_sign_concurrently,
            args=(audit_backend.url, str(keyring.path), signer_state_file, worker, barrier),
        )
        for worker in (1, 2)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
    assert [p.exitcode for p in workers] == [0, 0]
    # verify() checks that each checkpoint names the one before it: one chain, no fork.
    report = audit_log.verify()
    assert (report.entries, report.unsigned_entries) == (4 * ROUNDS, 0)
    sizes = audit_log.checkpoint_sizes()
    assert sizes[-1] == 4 * ROUNDS
    assert len(sizes) >= 2 * ROUNDS // 2
    state = audit_log.signer_state()
    assert state is not None
    assert state.note == audit_log.signed_note(4 * ROUNDS)


# -- the sequencing state's MAC ---------------------------------------------------------------


def test_an_empty_log_signed_then_appended_to_verifies(audit_log: AuditLog) -> None:
    """The empty log's state has no MAC yet: signing it gives it one, so neither the signer's
    state nor the next append takes the missing MAC for tampering."""
    audit_log.checkpoint()
    assert audit_log.verify().checkpoints == 1
    audit_log.record_many(event(i) for i in range(3))
    assert opened(audit_log, audit_log.checkpoint()).size == 3
    assert audit_log.verify().checkpoints == 2


def test_a_log_from_before_the_mac_verifies_once_signed(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    """Entries appended before the migration that added the MAC: the first checkpoint seals
    their state; a MAC removed after that is tampering."""
    audit_log.record_many(event(i) for i in range(3))
    execute(audit_backend.engine, "UPDATE audit_state SET mac = NULL")
    assert audit_log.verify().entries == 3  # nothing signed yet: a state from before MACs
    audit_log.checkpoint()
    assert audit_log.verify().checkpoints == 1
    audit_log.record_many(event(i) for i in range(3, 5))
    assert audit_log.verify().entries == 5
    execute(audit_backend.engine, "UPDATE audit_state SET mac = NULL")
    with pytest.raises(LogTampered, match="MAC"):
        audit_log.verify()
