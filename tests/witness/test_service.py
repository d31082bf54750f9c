"""add-checkpoint's rules: what the witness cosigns, and every way it refuses."""

from __future__ import annotations

import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.witness.support import T0, FakeClock, SyntheticLog

from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.cosignature import Ed25519CosignatureVerifier, MLDSA44CosignatureVerifier
from servinfo.audit.merkle import EMPTY_ROOT
from servinfo.audit.note import Ed25519NoteSigner, Note, NoteSignature, open_note, parse_vkey
from servinfo.audit.witness_protocol import AddCheckpointRequest
from servinfo.witness.errors import (
    Inconsistent,
    RequestMalformed,
    SignatureRejected,
    SizeConflict,
    UnknownLog,
)
from servinfo.witness.service import Witness
from servinfo.witness.store import LogState


def _state(witness: Witness, log: SyntheticLog) -> LogState:
    found = witness.store.log(log.origin)
    assert found is not None
    return found.state


def _timestamps(
    witness: Witness, log: SyntheticLog, size: int, cosignatures: list[NoteSignature]
) -> list[int]:
    """Each cosignature's timestamp, checked with the witness's published keys."""
    body = log.checkpoint(size).body()
    found = []
    for vkey in witness.vkeys():
        verifier = parse_vkey(vkey)
        assert isinstance(verifier, MLDSA44CosignatureVerifier | Ed25519CosignatureVerifier)
        mine = [c for c in cosignatures if (c.name, c.key_id) == (verifier.name, verifier.key_id)]
        assert len(mine) == 1
        timestamp = verifier.timestamp_of(body, mine[0].signature)
        assert timestamp is not None
        found.append(timestamp)
    return found


def test_the_first_checkpoint_is_cosigned_with_both_keys(
    witness: Witness, log: SyntheticLog
) -> None:
    cosignatures = witness.add(log.request(0))
    assert len(cosignatures) == 2
    assert _timestamps(witness, log, 10, cosignatures) == [T0, T0]
    state = _state(witness, log)
    assert (state.size, state.root, state.cosigned_at) == (10, log.root(), T0)


def test_the_stored_note_carries_the_log_signature_and_the_cosignatures(
    witness: Witness, log: SyntheticLog
) -> None:
    cosignatures = witness.add(log.request(0))
    stored = witness.latest(log.origin)
    assert stored is not None
    _, by_log = open_note(stored, [parse_vkey(log.vkey)])
    _, by_witness = open_note(stored, [parse_vkey(v) for v in witness.vkeys()])
    assert len(by_log) == 1
    assert by_witness == cosignatures


def test_a_grown_log_is_cosigned_with_a_consistency_proof(
    witness: Witness, log: SyntheticLog, clock: FakeClock
) -> None:
    witness.add(log.request(0))
    log.append(7)
    clock.advance(60)
    cosignatures = witness.add(log.request(10))
    assert _timestamps(witness, log, 17, cosignatures) == [T0 + 60] * 2
    assert _state(witness, log).size == 17


def test_the_body_is_parsed_as_the_protocol_says(witness: Witness, log: SyntheticLog) -> None:
    assert len(witness.add_checkpoint(log.request(0).to_bytes())) == 2


@pytest.mark.parametrize(
    "body",
    [b"", b"old 0\n", b"old x\n\n", b"old 0\n\nnot a note\n", b"old 0\n\nlog\n1\nAAAA\n\n"],
)
def test_a_body_that_is_not_a_request_is_malformed(witness: Witness, body: bytes) -> None:
    with pytest.raises(RequestMalformed):
        witness.add_checkpoint(body)


def test_an_unsigned_checkpoint_text_is_malformed(witness: Witness, log: SyntheticLog) -> None:
    body = b"old 0\n\n" + log.checkpoint().body() + b"\nno signature\n"
    with pytest.raises(RequestMalformed):
        witness.add_checkpoint(body)


def test_an_unknown_origin_is_not_found(witness: Witness) -> None:
    stranger = SyntheticLog("log.example/stranger").append(3)
    with pytest.raises(UnknownLog):
        witness.add(stranger.request(0))


def test_a_checkpoint_signed_by_another_key_is_rejected(
    witness: Witness, log: SyntheticLog
) -> None:
    impostor = Ed25519NoteSigner(log.origin, Ed25519PrivateKey.generate())
    request = AddCheckpointRequest(0, (), log.signed(signer=impostor))
    with pytest.raises(SignatureRejected, match="no known signature"):
        witness.add(request)
    assert not _state(witness, log).cosigned


def test_a_bad_signature_by_the_logs_key_is_rejected(witness: Witness, log: SyntheticLog) -> None:
    note = Note.parse(log.signed())
    good = note.signatures[0]
    bad = NoteSignature(good.name, good.key_id, bytes(64))
    with pytest.raises(SignatureRejected, match="invalid signature"):
        witness.add(AddCheckpointRequest(0, (), Note(note.text, (bad,)).to_bytes()))
    assert not _state(witness, log).cosigned


def test_a_failing_trusted_key_spoils_the_note_even_beside_a_good_one(
    witness: Witness, log: SyntheticLog
) -> None:
    """tlog-witness: a trusted key's signature that fails makes the note malformed (403)."""
    second = Ed25519NoteSigner(log.origin, Ed25519PrivateKey.generate())
    witness.store.add_log(log.origin, [second.vkey()])
    note = Note.parse(log.signed())
    bad = NoteSignature(second.name, second.key_id, bytes(64))
    with pytest.raises(SignatureRejected, match="invalid signature"):
        witness.add(
            AddCheckpointRequest(0, (), Note(note.text, (*note.signatures, bad)).to_bytes())
        )
    assert not _state(witness, log).cosigned


def test_signatures_by_unknown_keys_are_ignored(witness: Witness, log: SyntheticLog) -> None:
    other = Ed25519NoteSigner("someone.example/else", Ed25519PrivateKey.generate())
    note = Note.parse(log.signed())
    extra = NoteSignature(other.name, other.key_id, other.sign(note.text))
    both = Note(note.text, (extra, *note.signatures)).to_bytes()
    assert len(witness.add(AddCheckpointRequest(0, (), both))) == 2


def test_an_old_size_above_the_checkpoints_is_malformed(
    witness: Witness, log: SyntheticLog
) -> None:
    with pytest.raises(RequestMalformed, match="exceeds"):
        witness.add(AddCheckpointRequest(11, (), log.signed(10)))


def test_an_old_size_other_than_the_cosigned_one_conflicts(
    witness: Witness, log: SyntheticLog
) -> None:
    with pytest.raises(SizeConflict) as never_cosigned:
        witness.add(log.request(4))
    assert never_cosigned.value.size == 0
    witness.add(log.request(0))
    log.append(5)
    with pytest.raises(SizeConflict) as behind:
        witness.add(log.request(4))
    assert behind.value.size == 10


def test_a_smaller_tree_is_never_cosigned(witness: Witness, log: SyntheticLog) -> None:
    witness.add(log.request(0))
    # From the stored size: the old size exceeds the checkpoint's.
    with pytest.raises(RequestMalformed):
        witness.add(AddCheckpointRequest(10, (), log.signed(6)))
    # From a smaller old size: not the size cosigned.
    with pytest.raises(SizeConflict):
        witness.add(log.request(0, 6))
    assert _state(witness, log).size == 10


def test_a_replay_of_an_older_checkpoint_is_refused(witness: Witness, log: SyntheticLog) -> None:
    first = log.request(0)
    witness.add(first)
    log.append(6)
    witness.add(log.request(10))
    with pytest.raises(SizeConflict) as replayed:
        witness.add(first)
    assert replayed.value.size == 16
    with pytest.raises(SizeConflict):
        witness.add(log.request(10))
    assert _state(witness, log).size == 16


def test_a_fork_at_the_same_size_is_refused(witness: Witness, log: SyntheticLog) -> None:
    witness.add(log.request(0))
    fork = log.fork(6).append(4)
    assert fork.size == 10
    assert fork.root() != log.root()
    with pytest.raises(Inconsistent, match="different root at size 10"):
        witness.add(fork.request(10, proof=()))
    state = _state(witness, log)
    assert (state.size, state.root) == (10, log.root())


def test_a_fork_is_kept_as_evidence_both_checkpoints_signed_by_the_log(
    witness: Witness, log: SyntheticLog, clock: FakeClock
) -> None:
    witness.add(log.request(0))
    fork = log.fork(6).append(4)
    clock.advance(5)
    with pytest.raises(Inconsistent):
        witness.add(fork.request(10, proof=()))
    (kept,) = witness.store.evidence(log.origin)
    assert (kept.received_at, kept.reason) == (
        T0 + 5,
        "a different root at size 10, already cosigned",
    )
    assert kept.cosigned_note is not None
    by_log = [parse_vkey(log.vkey)]
    roots = set()
    for note in (kept.note, kept.cosigned_note):
        opened, _ = open_note(note, by_log)
        checkpoint = Checkpoint.from_body(opened.text)
        assert checkpoint.size == 10
        roots.add(checkpoint.root_hash)
    assert roots == {log.root(), fork.root()}


def test_requests_refused_before_the_consistency_checks_are_not_evidence(
    witness: Witness, log: SyntheticLog
) -> None:
    stranger = SyntheticLog(log.origin).append(10)  # the log's origin, another key
    with pytest.raises(SignatureRejected):
        witness.add(stranger.request(0))
    with pytest.raises(SizeConflict):
        witness.add(log.request(3))
    assert witness.store.evidence() == []


def test_a_fork_that_grows_further_is_refused(witness: Witness, log: SyntheticLog) -> None:
    witness.add(log.request(0))
    fork = log.fork(6).append(9)
    # The fork's own proof from 10 is a proof to *its* tree of 10, not the cosigned one.
    with pytest.raises(Inconsistent, match="consistency proof from 10 to 15 fails"):
        witness.add(fork.request(10))
    assert _state(witness, log).root == log.root()


def test_a_bad_proof_is_refused(witness: Witness, log: SyntheticLog) -> None:
    witness.add(log.request(0))
    log.append(5)
    proof = log.proof(10)
    damaged = (bytes(32), *proof[1:])
    for bad in [damaged, proof[:-1], (*proof, bytes(32)), ()]:
        with pytest.raises(Inconsistent, match="proof from 10 to 15 fails"):
            witness.add(log.request(10, proof=bad))
    assert _state(witness, log).size == 10


def test_a_proof_from_size_zero_must_be_empty(witness: Witness, log: SyntheticLog) -> None:
    with pytest.raises(Inconsistent, match="from size 0"):
        witness.add(log.request(0, proof=(bytes(32),)))


def test_a_tree_of_size_zero_must_have_the_empty_root(witness: Witness, log: SyntheticLog) -> None:
    empty = SyntheticLog(log.origin, log.key)
    assert len(witness.add(empty.request(0))) == 2
    assert _state(witness, log).root == EMPTY_ROOT
    # The empty tree is a prefix of every tree: the log grows from it with no proof.
    assert len(witness.add(log.request(0))) == 2


def test_the_same_checkpoint_again_is_cosigned_afresh(
    witness: Witness, log: SyntheticLog, clock: FakeClock
) -> None:
    witness.add(log.request(0))
    clock.advance(30)
    cosignatures = witness.add(log.request(10))
    assert _timestamps(witness, log, 10, cosignatures) == [T0 + 30] * 2
    assert _state(witness, log).cosigned_at == T0 + 30


def test_timestamps_do_not_go_back_with_the_clock(
    witness: Witness, log: SyntheticLog, clock: FakeClock
) -> None:
    witness.add(log.request(0))
    clock.advance(-3600)
    log.append(1)
    assert _timestamps(witness, log, 11, witness.add(log.request(10))) == [T0, T0]


def test_a_clock_at_zero_still_gives_a_nonzero_timestamp(
    witness: Witness, log: SyntheticLog, clock: FakeClock
) -> None:
    clock.now = 0
    assert _timestamps(witness, log, 10, witness.add(log.request(0))) == [1, 1]


def test_a_rotated_key_signs_on_from_the_state_kept(witness: Witness, log: SyntheticLog) -> None:
    witness.add(log.request(0))
    rotated = SyntheticLog(log.origin)
    rotated.leaves = list(log.leaves)
    rotated.append(3)
    with pytest.raises(SignatureRejected):
        witness.add(rotated.request(10))
    witness.store.add_log(log.origin, [rotated.vkey])
    assert len(witness.add(rotated.request(10))) == 2
    assert _state(witness, log).size == 13


def test_concurrent_identical_submissions_advance_once(witness: Witness, log: SyntheticLog) -> None:
    witness.add(log.request(0))
    log.append(20)
    request = log.request(10)
    contenders = 8
    barrier = threading.Barrier(contenders)
    outcomes: list[object] = []
    lock = threading.Lock()

    def submit() -> None:
        barrier.wait()
        try:
            outcome: object = witness.add(request)
        except SizeConflict as conflict:
            outcome = conflict.size
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=submit) for _ in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cosigned = [o for o in outcomes if isinstance(o, list)]
    assert len(cosigned) == 1
    assert sorted(o for o in outcomes if isinstance(o, int)) == [30] * (contenders - 1)
    assert _state(witness, log).size == 30


def test_a_swap_lost_to_a_concurrent_advance_returns_no_cosignature(
    witness: Witness, log: SyntheticLog
) -> None:
    """The state moves between the check and the write: 409, and nothing signed escapes."""
    witness.add(log.request(0))
    log.append(5)
    request = log.request(10)
    real_advance = witness.store.advance

    def advance_by_another_first(origin: str, **fields: object) -> LogState:
        real_advance(
            origin,
            expected_size=10,
            expected_root=log.root(10),
            size=15,
            root=log.root(15),
            note=b"by another",
            cosigned_at=T0,
        )
        return real_advance(origin, **fields)  # type: ignore[arg-type]

    witness.store.advance = advance_by_another_first  # type: ignore[method-assign]
    with pytest.raises(SizeConflict) as lost:
        witness.add(request)
    assert lost.value.size == 15
