"""The persistent log: appends, heads on schedule, proofs, reading back, on both backends."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select
from tests.audit.support import START_MS, AuditBackend, FakeClock, event

from servinfo.audit import (
    AuditEntry,
    AuditLog,
    AuditSink,
    CompactRange,
    EntryInvalid,
    EntryNotFound,
    HeadNotFound,
    InclusionBundle,
    ProofInvalid,
    RangeInvalid,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency_bundle,
    verify_inclusion_bundle,
)
from servinfo.audit.models import AuditEntryRow, AuditHeadRow
from servinfo.crypto import AUDIT_SIGNING, Keyring


def _stored(backend: AuditBackend) -> list[tuple[int, bytes, bytes]]:
    table = AuditEntryRow.__table__
    with backend.engine.connect() as connection:
        rows = connection.execute(
            select(table.c.seq, table.c.entry, table.c.leaf_hash).order_by(table.c.seq)
        ).all()
    return [(int(seq), bytes(data), bytes(h)) for seq, data, h in rows]


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
    assert (report.entries, report.unsigned_entries, report.heads) == (25, 0, 2)
    stored = _stored(audit_backend)
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


def test_heads_are_signed_every_n_entries(audit_log: AuditLog, keyring: Keyring) -> None:
    for i in range(25):
        audit_log.record_many([event(i)])
    head = audit_log.latest_head()
    assert head is not None
    # The first entry is due at once, then every 10 after the last head.
    assert head.tree_size == 21
    assert head.key_id == keyring.current(AUDIT_SIGNING).key_id
    assert audit_log.verify().heads == 3  # at 1, 11 and 21


def test_heads_are_signed_after_n_seconds(audit_log: AuditLog, clock: FakeClock) -> None:
    audit_log.record_many([event(0)])  # the first entry is due at once
    audit_log.record_many([event(1)])
    head = audit_log.latest_head()
    assert head is not None
    assert head.tree_size == 1
    assert audit_log.issue_head_if_due() is None
    clock.advance(61)
    due = audit_log.issue_head_if_due()
    assert due is not None
    assert (due.tree_size, due.timestamp) == (2, START_MS + 61_000)
    assert audit_log.issue_head_if_due() is None  # nothing unsigned


def test_issue_head_is_idempotent_and_signs_the_empty_log(audit_log: AuditLog) -> None:
    empty = audit_log.issue_head()
    assert empty.tree_size == 0
    assert audit_log.issue_head() == empty
    audit_log.record_many(event(i) for i in range(3))
    assert audit_log.issue_head().tree_size == 3
    assert audit_log.verify().heads == 2  # 0 and 3


def test_an_inclusion_bundle_verifies_with_the_public_keys_only(audit_log: AuditLog) -> None:
    audit_log.record_many(event(i) for i in range(37))
    keys = audit_log.public_keys()
    for index in (0, 17, 36):  # 36 is newer than the latest head: one is signed first
        bundle = InclusionBundle.from_json(audit_log.inclusion_bundle(index).to_json())
        verify_inclusion_bundle(bundle, keys)
        assert bundle.head.tree_size == 37
        assert bundle.entry is not None
        assert AuditEntry.from_canonical(bundle.entry).seq == index
    with pytest.raises(EntryNotFound, match="entry 37 does not exist"):
        audit_log.inclusion_bundle(37)
    with pytest.raises(EntryNotFound):
        audit_log.inclusion_bundle(-1)
    foreign = {k: bytes(32) for k in keys}  # not the audit key
    with pytest.raises(ProofInvalid, match="signature"):
        verify_inclusion_bundle(audit_log.inclusion_bundle(3), foreign)


def test_a_consistency_bundle_between_two_heads_verifies(audit_log: AuditLog) -> None:
    audit_log.record_many(event(i) for i in range(13))
    audit_log.record_many(event(i) for i in range(13, 58))
    keys = audit_log.public_keys()
    bundle = audit_log.consistency_bundle(13, 58)
    verify_consistency_bundle(bundle, keys)
    assert (bundle.old_head.tree_size, bundle.new_head.tree_size) == (13, 58)
    assert audit_log.consistency_bundle(13).new_head.tree_size == 58
    with pytest.raises(HeadNotFound, match="size 12"):
        audit_log.consistency_bundle(12, 58)
    with pytest.raises(HeadNotFound, match="size 59"):
        audit_log.consistency_bundle(13, 59)
    with pytest.raises(RangeInvalid):
        audit_log.consistency_bundle(58, 13)


def test_heads_signed_before_a_key_rotation_still_verify(
    audit_log: AuditLog, keyring: Keyring
) -> None:
    audit_log.record_many(event(i) for i in range(10))
    keyring.rotate(AUDIT_SIGNING)
    audit_log.record_many(event(i) for i in range(10, 20))
    keys = audit_log.public_keys()
    assert sorted(keys) == ["audit_signing:v1", "audit_signing:v2"]
    assert audit_log.signing_key_id == "audit_signing:v2"
    assert audit_log.verify().heads == 2
    bundle = audit_log.consistency_bundle(10, 20)
    assert (bundle.old_head.key_id, bundle.new_head.key_id) == tuple(keys)
    verify_consistency_bundle(bundle, keys)


def test_an_invalid_event_appends_nothing(audit_log: AuditLog) -> None:
    audit_log.record_many(event(i) for i in range(3))
    with pytest.raises(EntryInvalid, match="lower_snake_case"):
        audit_log.record_many([event(3), replace(event(4), action="Read")])
    assert audit_log.size() == 3


def test_empty_batches_and_bad_ranges(audit_log: AuditLog) -> None:
    assert audit_log.record_many([]) == range(0)
    assert audit_log.size() == 0
    assert audit_log.latest_head() is None
    with pytest.raises(RangeInvalid):
        audit_log.entries(3, 1)
    with pytest.raises(RangeInvalid):
        audit_log.tail(-1)


def test_heads_store_the_frontier_to_continue_from(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    audit_log.record_many(event(i) for i in range(10))
    table = AuditHeadRow.__table__
    with audit_backend.engine.connect() as connection:
        frontier = connection.execute(select(table.c.frontier)).scalar_one()
    head = audit_log.latest_head()
    assert head is not None
    assert CompactRange.from_bytes(bytes(frontier)).root() == head.root_hash


def test_a_large_batch_is_stored_whole_and_in_order(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    """More entries than one SQLite insert statement takes (64), and not a multiple of it."""
    audit_log.record_many([event(0)])
    seqs = audit_log.record_many(event(i, f"subj-{i % 50}") for i in range(1, 151))
    assert seqs == range(1, 151)
    stored = _stored(audit_backend)
    assert [seq for seq, _, _ in stored] == list(range(151))
    assert [AuditEntry.from_canonical(data).details["rows"] for _, data, _ in stored] == list(
        range(151)
    )
    assert all(digest == leaf_hash(data) for _, data, digest in stored)
    assert audit_log.verify().entries == 151
