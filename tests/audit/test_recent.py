"""The signer taking the tree the appends computed, and large batches.

The signer takes this process's own extension of its last checkpoint when the process
made every append since, and hashes the leaves again otherwise — never when that would
sign a stored state rewritten in between. Large batches are stored whole or not at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.audit.checkpoints import execute, frontier_of, leaf_hashes, stored_rows
from tests.audit.support import ORIGIN, AuditBackend, event

from servinfo.audit import AuditEntry, AuditLog, CompactRange, _storage, leaf_hash
from servinfo.audit._recent import RecentAppends
from servinfo.audit.errors import AuditError
from servinfo.audit.models import SUBJECT_BUCKET_BITS
from servinfo.audit.signer import SignerRefused
from servinfo.crypto import Keyring

#: More rows than several of SQLite's insert statements take, and not a multiple of them.
_LARGE = 4_567


def _signed_with(log: AuditLog, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each checkpoint the log signs from here on took the appends' own tree."""
    seen: list[bool] = []
    sign = log._signer.sign

    def spy(*args: Any, extended: CompactRange | None = None) -> Any:
        seen.append(extended is not None)
        return sign(*args, extended=extended)

    monkeypatch.setattr(log._signer, "sign", spy)
    return seen


# -- large batches -------------------------------------------------------------------------


def test_a_large_batch_is_stored_whole_in_order_and_indexed(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    events = [event(i, None if i % 7 == 0 else f"subj-{i % 40}") for i in range(_LARGE)]
    assert audit_log.record_many(events) == range(_LARGE)
    stored = stored_rows(audit_backend.engine)
    assert [seq for seq, _, _ in stored] == list(range(_LARGE))
    assert all(digest == leaf_hash(data) for _, data, digest in stored)
    assert [AuditEntry.from_canonical(data).details["rows"] for _, data, _ in stored] == list(
        range(_LARGE)
    )
    history = audit_log.subject_history("subj-3")
    assert history is not None
    assert [seq for seq, _ in history.entries] == [
        i for i in range(_LARGE) if i % 7 and i % 40 == 3
    ]
    assert audit_log.verify().entries == _LARGE


def test_an_insert_that_fails_rolls_the_whole_batch_back(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    """A row already at a seq near the batch's end: the insert fails there; the append
    raises, and none of the batch, nor its state, stays."""
    audit_log.record_many([event(0)])
    blocker = 1 + 2 * 2_000 + 5
    execute(
        audit_backend.engine,
        "INSERT INTO audit_entries (seq, leaf_hash, entry) VALUES (:seq, :digest, :data)",
        seq=blocker,
        digest=leaf_hash(b"in the way"),
        data=b"in the way",
    )
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        audit_log.record_many(event(i) for i in range(1, _LARGE))
    assert [seq for seq, _, _ in stored_rows(audit_backend.engine)] == [0, blocker]
    assert audit_log.size() == 1
    execute(audit_backend.engine, "DELETE FROM audit_entries WHERE seq = :seq", seq=blocker)
    assert audit_log.record_many(event(i) for i in range(1, _LARGE)) == range(1, _LARGE)
    assert audit_log.verify().entries == _LARGE


def test_stored_values_keep_their_types_and_bytes(
    audit_log: AuditLog, audit_backend: AuditBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's inserts cut each value out of a chunk's joined blob: still a BLOB of exactly
    the entry's bytes and an INTEGER seq, also when a chunk's bytes take several statements."""
    monkeypatch.setattr(_storage, "_STATEMENT_BYTES", 3_000)
    events = [event(i, None if i % 5 == 0 else f"subj-{i % 9}") for i in range(_LARGE)]
    audit_log.record_many(events)
    stored = stored_rows(audit_backend.engine)
    assert [seq for seq, _, _ in stored] == list(range(_LARGE))
    assert all(digest == leaf_hash(data) for _, data, digest in stored)
    assert audit_log.verify().entries == _LARGE
    if not audit_backend.is_sqlite:
        return
    with audit_backend.engine.connect() as connection:
        entry_types = connection.exec_driver_sql(
            "SELECT DISTINCT typeof(seq), typeof(leaf_hash), typeof(entry), length(leaf_hash)"
            " FROM audit_entries"
        ).all()
        index_types = connection.exec_driver_sql(
            "SELECT DISTINCT typeof(bucket), typeof(pseudonym), typeof(seq), length(pseudonym),"
            " bucket = seq >> ? FROM audit_subject_entries",
            (SUBJECT_BUCKET_BITS,),
        ).all()
    assert entry_types == [("integer", "blob", "blob", 32)]
    assert index_types == [("integer", "blob", "integer", 16, 1)]


def test_a_leaf_or_pseudonym_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(AuditError, match="leaf hash is not 32 bytes"):
        list(_storage.sqlite_entry_statements(0, [b"short"], [b"entry"]))
    with pytest.raises(AuditError, match="pseudonym is not 16 bytes"):
        _storage.sqlite_index_statement([b"short"], [0])


# -- the signer and the appends' own tree ----------------------------------------------------


def test_the_signer_takes_the_tree_this_process_appended(
    audit_log: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _signed_with(audit_log, monkeypatch)
    for start in range(0, 40, 5):  # a checkpoint every 10 entries: after every second batch
        audit_log.record_many(event(i) for i in range(start, start + 5))
    assert audit_log.checkpoint_sizes() == [10, 20, 30, 40]
    assert seen == [True] * 4
    assert audit_log.verify().checkpoints == 4


def test_after_another_process_appended_the_signer_hashes_the_leaves(
    audit_log: AuditLog,
    audit_backend: AuditBackend,
    keyring: Keyring,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = AuditLog(
        audit_backend.engine,
        keyring,
        signer_state_file=tmp_path / "worker" / "audit-signer.json",
        origin=ORIGIN,
        signs=False,
    )
    seen = _signed_with(audit_log, monkeypatch)
    audit_log.record_many(event(i) for i in range(6))
    worker.record_many(event(i) for i in range(6, 8))
    audit_log.record_many(event(i) for i in range(8, 10))  # due: signed
    assert audit_log.checkpoint_sizes() == [10]
    assert seen == [False]
    audit_log.record_many(event(i) for i in range(10, 20))
    assert seen == [False, True]
    assert audit_log.verify().checkpoints == 2


def test_a_state_rewritten_between_two_appends_is_not_signed(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    """The unsigned tail rewritten by whoever holds the MAC key, between two appends of this
    process: the next append continues from the forged frontier, but the signer, hashing
    the leaves this process appended, refuses it (no extension spans the rewrite)."""
    audit_log.record_many(event(i) for i in range(10))
    assert audit_log.checkpoint_sizes() == [10]
    audit_log.record_many(event(i) for i in range(10, 15))
    execute(
        audit_backend.engine,
        "UPDATE audit_entries SET leaf_hash = :forged WHERE seq = 12",
        forged=leaf_hash(b"forged"),
    )
    forged = frontier_of(leaf_hashes(audit_backend.engine)).to_bytes()
    execute(
        audit_backend.engine,
        "UPDATE audit_state SET frontier = :frontier, mac = :mac",
        frontier=forged,
        mac=audit_log._state_mac(15, forged),
    )
    audit_log.record_many(event(i) for i in range(15, 20))  # due: refused, logged
    assert audit_log.checkpoint_sizes() == [10]
    with pytest.raises(SignerRefused, match="does not extend the checkpoint of size 10"):
        audit_log.checkpoint()


# -- RecentAppends on its own ------------------------------------------------------------------


def _leaves(start: int, end: int) -> list[bytes]:
    return [leaf_hash(b"%d" % i) for i in range(start, end)]


def test_a_chain_of_batches_extends_its_first_frontier() -> None:
    recent = RecentAppends(limit=100)
    signed = frontier_of(_leaves(0, 4))
    at_7, at_12 = frontier_of(_leaves(0, 7)), frontier_of(_leaves(0, 12))
    recent.add(signed, _leaves(4, 7), at_7)
    recent.add(at_7, _leaves(7, 12), at_12)
    assert recent.extended(signed, at_12) == at_12
    assert recent.extended(signed, at_7) == at_7
    assert recent.extended(frontier_of(_leaves(0, 3)), at_12) is None  # not where it started
    assert recent.extended(signed, frontier_of(_leaves(1, 13))) is None  # not what it made
    assert recent.leaves(4, 12) == _leaves(4, 12)
    recent.signed(7)
    assert recent.extended(signed, at_12) is None
    assert recent.extended(at_7, at_12) == at_12
    assert recent.leaves(7, 12) == _leaves(7, 12)
    assert recent.leaves(4, 12) is None


def test_a_batch_from_another_frontier_breaks_the_chain_but_keeps_the_leaves() -> None:
    recent = RecentAppends(limit=100)
    start, at_7 = frontier_of(_leaves(0, 4)), frontier_of(_leaves(0, 7))
    recent.add(start, _leaves(4, 7), at_7)
    rewritten = frontier_of([leaf_hash(b"forged"), *_leaves(1, 7)])
    after = rewritten.copy()
    after.extend(_leaves(7, 9))
    recent.add(rewritten, _leaves(7, 9), after)
    assert recent.extended(start, after) is None
    assert recent.leaves(4, 9) == _leaves(4, 9)  # the signer hashes these: not ``after``


def test_another_process_s_batch_starts_a_new_run() -> None:
    recent = RecentAppends(limit=100)
    recent.add(frontier_of(_leaves(0, 4)), _leaves(4, 7), frontier_of(_leaves(0, 7)))
    at_9 = frontier_of(_leaves(0, 9))
    recent.add(at_9, _leaves(9, 11), frontier_of(_leaves(0, 11)))
    assert recent.leaves(4, 11) is None
    assert recent.leaves(9, 11) == _leaves(9, 11)
    assert recent.extended(at_9, frontier_of(_leaves(0, 11))) == frontier_of(_leaves(0, 11))
