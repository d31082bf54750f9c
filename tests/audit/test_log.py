"""The persistent log: appends, checkpoints on schedule, proofs, reading back, on both backends."""

from __future__ import annotations

import base64
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.audit.checkpoints import cosign, opened, policy, stored_rows, witness
from tests.audit.support import ORIGIN, START_MS, AuditBackend, FakeClock, event

from servinfo.audit import (
    EMPTY_ROOT,
    AuditEntry,
    AuditLog,
    AuditSink,
    CompactRange,
    EntryInvalid,
    EntryNotFound,
    HeadNotFound,
    ProofInvalid,
    RangeInvalid,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
)
from servinfo.audit.errors import NoteInvalid
from servinfo.audit.models import AuditCheckpointRow, AuditEntryRow
from servinfo.audit.note import Ed25519NoteVerifier, open_note
from servinfo.audit.policy import TrustPolicy
from servinfo.audit.signer import SignerRefused, previous_of
from servinfo.audit.tlog_proof import TlogProof
from servinfo.crypto import AUDIT_SIGNING, Keyring


def test_the_log_is_an_audit_sink(audit_log: AuditLog) -> None:
    assert isinstance(audit_log, AuditSink)


def test_appended_entries_verify_and_read_back(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    first = audit_log.record(
        "read",
        actor="p_7",
        subject_id="subj-1",
        purpose="technical_support",
        outcome="allow",
        reasons=["support may read account"],
        record_ids=["01JF0000000000000000000001"],
        details={"rows": 1, "cached": False},
    )
    seqs = audit_log.record_many(event(i) for i in range(24))
    assert first == 0
    assert seqs == range(1, 25)
    assert audit_log.size() == 25
    report = audit_log.verify()
    # One entry is not due (1 < 10 entries, < 60 s); 25 are, so one checkpoint covers all.
    assert (report.entries, report.unsigned_entries, report.checkpoints, report.heads) == (
        25,
        0,
        1,
        0,
    )
    assert report.latest_checkpoint == audit_log.signed_note(25)
    stored = stored_rows(audit_backend.engine)
    assert [seq for seq, _, _ in stored] == list(range(25))
    assert report.root == root_from_leaf_hashes([leaf_hash(data) for _, data, _ in stored])
    # The stored bytes are exactly the canonical form of the entry they decode to.
    for seq, data, digest in stored:
        entry = AuditEntry.from_canonical(data)
        assert (entry.seq, entry.at, entry.canonical_bytes(), digest) == (
            seq,
            START_MS,
            data,
            leaf_hash(data),
        )
    read = audit_log.entries(0, 1)[0]
    assert (read.action, read.actor, read.reasons, dict(read.details)) == (
        "read",
        "p_7",
        ("support may read account",),
        {"rows": 1, "cached": False},
    )
    assert [e.seq for e in audit_log.tail(3)] == [22, 23, 24]
    assert [e.seq for e in audit_log.entries(23, 99)] == [23, 24]


def test_checkpoints_are_signed_every_n_entries(audit_log: AuditLog) -> None:
    for i in range(25):
        audit_log.record_many([event(i)])
    assert audit_log.checkpoint_sizes() == [10, 20]
    note = audit_log.latest_checkpoint()
    assert note is not None
    checkpoint = opened(audit_log, note)
    assert (checkpoint.origin, checkpoint.size) == (ORIGIN, 20)
    assert checkpoint.root_hash == root_from_leaf_hashes(
        [h for _, _, h in _stored_hashes(audit_log)][:20]
    )
    # Each names the one before it; the first names none.
    first = opened(audit_log, audit_log.signed_note(10))
    assert previous_of(first) is None
    assert previous_of(checkpoint) == (10, first.root_hash)
    report = audit_log.verify()
    assert (report.checkpoints, report.signed_entries, report.unsigned_entries) == (2, 20, 5)


def _stored_hashes(log: AuditLog) -> list[tuple[int, bytes, bytes]]:
    table = AuditEntryRow.__table__
    with log.engine.connect() as connection:
        rows = connection.execute(
            select(table.c.seq, table.c.entry, table.c.leaf_hash).order_by(table.c.seq)
        ).all()
    return [(int(seq), bytes(data), bytes(h)) for seq, data, h in rows]


def test_checkpoints_are_signed_after_n_seconds(audit_log: AuditLog, clock: FakeClock) -> None:
    audit_log.record_many([event(0)])
    audit_log.record_many([event(1)])
    assert audit_log.latest_checkpoint() is None  # 2 < 10 entries, < 60 s
    assert audit_log.checkpoint_if_due() is None
    clock.advance(61)
    due = audit_log.checkpoint_if_due()
    assert due is not None
    assert opened(audit_log, due).size == 2
    assert audit_log.checkpoint_if_due() is None  # nothing unsigned
    clock.advance(61)
    assert audit_log.checkpoint_if_due() is None  # due by time, but nothing to sign
    audit_log.record_many([event(2)])  # due on time at once: a minute has passed
    assert audit_log.checkpoint_sizes() == [2, 3]
    assert audit_log.appended is False


def test_checkpoint_is_idempotent_and_signs_the_empty_log(audit_log: AuditLog) -> None:
    empty = audit_log.checkpoint()
    checkpoint = opened(audit_log, empty)
    assert (checkpoint.size, checkpoint.root_hash, checkpoint.extensions) == (0, EMPTY_ROOT, ())
    assert audit_log.checkpoint() == empty
    audit_log.record_many(event(i) for i in range(3))
    assert audit_log.appended
    three = opened(audit_log, audit_log.checkpoint())
    assert three.size == 3
    root = base64.b64encode(EMPTY_ROOT).decode()
    assert three.extensions == (f"servinfo-previous 0 {root}",)
    assert audit_log.checkpoint_sizes() == [0, 3]
    assert audit_log.verify().checkpoints == 2
    # The signer remembers the latest, beside the key material.
    state = audit_log.signer_state()
    assert state is not None
    assert (state.size, state.note) == (3, audit_log.signed_note(3))


def test_an_inclusion_proof_verifies_with_a_policy_only(audit_log: AuditLog) -> None:
    audit_log.record_many(event(i) for i in range(30))  # checkpoint at 30
    audit_log.record_many(event(i) for i in range(30, 37))  # 7 unsigned
    trust = policy(audit_log)
    # Proved against the latest checkpoint; 36 is newer than it, so one is signed first.
    for index, size in ((0, 30), (17, 30), (29, 30), (36, 37), (0, 37)):
        entry, hashes, note = audit_log.inclusion(index)
        proof = TlogProof.parse(TlogProof(index, hashes, note, extra=entry).to_text())
        verified = proof.verify(leaf_hash(entry), trust)
        assert verified.checkpoint.size == size
        assert AuditEntry.from_canonical(entry).seq == index
    assert audit_log.checkpoint_sizes() == [30, 37]
    with pytest.raises(EntryNotFound, match="entry 37 does not exist"):
        audit_log.inclusion(37)
    with pytest.raises(EntryNotFound):
        audit_log.inclusion(-1)
    entry, hashes, note = audit_log.inclusion(3)
    proof = TlogProof(3, hashes, note, extra=entry)
    with pytest.raises(ProofInvalid, match="step 4"):
        proof.verify(leaf_hash(audit_log.inclusion(4)[0]), trust)
    # Another log key (a forger's) does not satisfy the auditor's policy.
    foreign = Ed25519NoteVerifier(ORIGIN, bytes(range(32, 64)))
    with pytest.raises(ProofInvalid, match="step 2"):
        proof.verify(leaf_hash(entry), TrustPolicy.parse(f"log {foreign.vkey()}\nquorum none\n"))


def test_a_consistency_proof_between_two_checkpoints_verifies(audit_log: AuditLog) -> None:
    audit_log.record_many(event(i) for i in range(13))
    audit_log.record_many(event(i) for i in range(13, 58))
    assert audit_log.checkpoint_sizes() == [13, 58]
    proof = audit_log.consistency(13, 58)
    old = opened(audit_log, audit_log.signed_note(13))
    new = opened(audit_log, proof.checkpoint)
    assert (proof.old_size, new.size) == (13, 58)
    assert verify_consistency(13, 58, old.root_hash, new.root_hash, list(proof.proof))
    assert not verify_consistency(13, 58, bytes(32), new.root_hash, list(proof.proof))
    assert audit_log.consistency(13).checkpoint == proof.checkpoint
    assert audit_log.consistency(58).proof == ()
    with pytest.raises(HeadNotFound, match="size 12"):
        audit_log.consistency(12, 58)
    with pytest.raises(HeadNotFound, match="size 59"):
        audit_log.consistency(13, 59)
    with pytest.raises(RangeInvalid):
        audit_log.consistency(58, 13)


def test_checkpoints_signed_before_a_key_rotation_still_verify(
    audit_log: AuditLog, keyring: Keyring
) -> None:
    audit_log.record_many(event(i) for i in range(10))
    keyring.rotate(AUDIT_SIGNING)
    audit_log.record_many(event(i) for i in range(10, 20))
    windows = audit_log.key_windows()
    assert [w.key_id for w in windows] == ["audit_signing:v1", "audit_signing:v2"]
    assert windows[0].valid_until == windows[1].valid_from
    assert windows[1].valid_until is None
    assert audit_log.vkeys() == [w.vkey for w in windows]
    report = audit_log.verify()
    assert (report.checkpoints, report.entries) == (2, 20)
    # Each checkpoint is signed by the key current when it was signed, and only by it.
    old_key, new_key = audit_log.log_verifiers()
    open_note(audit_log.signed_note(10), [old_key])
    open_note(audit_log.signed_note(20), [new_key])
    with pytest.raises(NoteInvalid, match="no known signature"):
        open_note(audit_log.signed_note(10), [new_key])
    proof = audit_log.consistency(10, 20)
    old = opened(audit_log, audit_log.signed_note(10))
    new = opened(audit_log, proof.checkpoint)
    assert verify_consistency(10, 20, old.root_hash, new.root_hash, list(proof.proof))
    # An auditor's policy with both keys accepts both checkpoints.
    trust = policy(audit_log)
    assert trust.verify_checkpoint(audit_log.signed_note(10)).checkpoint.size == 10
    assert trust.verify_checkpoint(audit_log.signed_note(20)).checkpoint.size == 20


def test_an_invalid_event_appends_nothing(audit_log: AuditLog) -> None:
    audit_log.record_many(event(i) for i in range(3))
    with pytest.raises(EntryInvalid, match="lower_snake_case"):
        audit_log.record_many([event(3), replace(event(4), action="Read")])
    assert audit_log.size() == 3


def test_empty_batches_and_bad_ranges(audit_log: AuditLog) -> None:
    assert audit_log.record_many([]) == range(0)
    assert audit_log.size() == 0
    assert audit_log.latest_checkpoint() is None
    assert audit_log.signer_state() is None
    assert audit_log.checkpoint_sizes() == []
    with pytest.raises(RangeInvalid):
        audit_log.entries(3, 1)
    with pytest.raises(RangeInvalid):
        audit_log.tail(-1)
    with pytest.raises(HeadNotFound):
        audit_log.checkpoint_of_size(0)
    with pytest.raises(HeadNotFound):
        audit_log.signed_note(0)


def test_checkpoints_store_the_frontier_to_continue_from(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    audit_log.record_many(event(i) for i in range(10))
    table = AuditCheckpointRow.__table__
    with audit_backend.engine.connect() as connection:
        size, frontier = connection.execute(select(table.c.tree_size, table.c.frontier)).one()
    checkpoint = opened(audit_log, audit_log.signed_note(10))
    stored = CompactRange.from_bytes(bytes(frontier))
    assert (size, stored.size, stored.root()) == (10, 10, checkpoint.root_hash)
    state = audit_log.signer_state()
    assert state is not None
    assert state.frontier == stored


def test_cosignatures_are_stored_with_their_checkpoint(audit_log: AuditLog) -> None:
    audit_log.record_many(event(i) for i in range(10))
    w = witness()
    cosign(audit_log, w, 10, START_MS // 1000 + 5)
    note = audit_log.latest_checkpoint()
    assert note is not None
    assert note != audit_log.signed_note(10)
    assert note == audit_log.checkpoint_of_size(10)
    verified = policy(audit_log, [w]).verify_checkpoint(note)
    assert verified.cosignatures == {"w0": START_MS // 1000 + 5}
    assert audit_log.cosigned_sizes() == {(w.name, w.key_id): 10}
    cosign(audit_log, w, 10, START_MS // 1000 + 5)  # stored once
    assert audit_log.latest_checkpoint() == note


def test_a_large_batch_is_stored_whole_and_in_order(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    """More entries than one SQLite insert statement takes (64), and not a multiple of it."""
    audit_log.record_many([event(0)])
    seqs = audit_log.record_many(event(i, f"subj-{i % 50}") for i in range(1, 151))
    assert seqs == range(1, 151)
    stored = stored_rows(audit_backend.engine)
    assert [seq for seq, _, _ in stored] == list(range(151))
    assert [AuditEntry.from_canonical(data).details["rows"] for _, data, _ in stored] == list(
        range(151)
    )
    assert all(digest == leaf_hash(data) for _, data, digest in stored)
    assert audit_log.verify().entries == 151


def test_a_checkpoint_of_an_older_snapshot_leaves_newer_entries_to_sign(
    audit_log: AuditLog,
) -> None:
    """A thread's checkpoint taken before another thread's append committed covers less
    than was appended: the process must still sign the rest (at exit, on its timer)."""
    audit_log.record_many(event(i) for i in range(3))
    audit_log.checkpoint()
    audit_log.record_many(event(i) for i in range(3, 5))
    audit_log._signed(3)  # what the slower checkpoint of the older snapshot reports
    assert audit_log.appended
    audit_log.checkpoint()
    assert not audit_log.appended


def test_a_second_signer_never_forks_the_chain_of_checkpoints(
    audit_log: AuditLog,
    audit_backend: AuditBackend,
    keyring: Keyring,
    signer_state_file: Path,
    tmp_path: Path,
) -> None:
    """Another host's signer, its state a copy from an earlier checkpoint: signing on from
    there would name a previous checkpoint that is not the latest stored; it refuses."""
    audit_log.record_many(event(i) for i in range(5))
    audit_log.checkpoint()
    elsewhere = tmp_path / "elsewhere" / "audit-signer.json"
    elsewhere.parent.mkdir()
    shutil.copyfile(signer_state_file, elsewhere)
    audit_log.record_many(event(i) for i in range(5, 10))
    audit_log.checkpoint()
    other = AuditLog(audit_backend.engine, keyring, signer_state_file=elsewhere, origin=ORIGIN)
    other.record_many(event(i) for i in range(10, 12))
    with pytest.raises(SignerRefused, match="another signer signs this log"):
        other.checkpoint()
    assert audit_log.verify().checkpoints == 2


def test_a_host_that_does_not_sign_appends_and_leaves_the_signing(
    audit_log: AuditLog, audit_backend: AuditBackend, keyring: Keyring, tmp_path: Path
) -> None:
    appender = AuditLog(
        audit_backend.engine,
        keyring,
        signer_state_file=tmp_path / "none" / "audit-signer.json",
        origin=ORIGIN,
        checkpoint_every_entries=1,
        signs=False,
    )
    appender.record_many(event(i) for i in range(3))
    assert appender.sign_or_report() is None
    assert audit_log.checkpoint_sizes() == []
    assert not (tmp_path / "none").exists()
    with pytest.raises(SignerRefused, match="does not sign checkpoints"):
        appender.checkpoint()
    assert opened(audit_log, audit_log.checkpoint()).size == 3  # the signing host's
