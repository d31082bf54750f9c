"""The witness's state: compare-and-swap advances, one winner of a race, state across restarts."""

from __future__ import annotations

import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from servinfo.witness import store as store_module
from servinfo.witness.errors import SizeConflict, UnknownLog, WitnessBusy, WitnessSetupInvalid
from servinfo.witness.store import MAX_TREE_SIZE, SCHEMA_VERSION, WitnessStore

ROOT_A = bytes(range(32))
ROOT_B = bytes(range(1, 33))
ROOT_C = bytes(range(2, 34))


@pytest.fixture
def store(tmp_path: Path) -> WitnessStore:
    created = WitnessStore.create(tmp_path / "witness.sqlite")
    created.add_log("log.example/a", ["vkey-1"])
    return created


def test_a_new_log_starts_at_size_zero_with_nothing_cosigned(store: WitnessStore) -> None:
    log = store.log("log.example/a")
    assert log is not None
    assert log.vkeys == ("vkey-1",)
    assert (log.state.size, log.state.root, log.state.note) == (0, None, None)
    assert not log.state.cosigned
    assert store.log("log.example/unknown") is None


def test_the_state_file_is_private(store: WitnessStore) -> None:
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_advance_records_the_checkpoint_and_it_survives_a_reopen(store: WitnessStore) -> None:
    store.advance(
        "log.example/a",
        expected_size=0,
        expected_root=None,
        size=5,
        root=ROOT_A,
        note=b"note 5",
        cosigned_at=100,
    )
    reopened = WitnessStore(store.path)
    log = reopened.log("log.example/a")
    assert log is not None
    assert (log.state.size, log.state.root, log.state.note, log.state.cosigned_at) == (
        5,
        ROOT_A,
        b"note 5",
        100,
    )


def test_advance_from_a_stale_state_is_refused_with_the_stored_size(store: WitnessStore) -> None:
    store.advance(
        "log.example/a",
        expected_size=0,
        expected_root=None,
        size=5,
        root=ROOT_A,
        note=b"5",
        cosigned_at=1,
    )
    with pytest.raises(SizeConflict) as refused:
        store.advance(
            "log.example/a",
            expected_size=0,
            expected_root=None,
            size=7,
            root=ROOT_B,
            note=b"7",
            cosigned_at=2,
        )
    assert refused.value.size == 5
    # The right size but another root is stale too.
    with pytest.raises(SizeConflict):
        store.advance(
            "log.example/a",
            expected_size=5,
            expected_root=ROOT_B,
            size=7,
            root=ROOT_B,
            note=b"7",
            cosigned_at=2,
        )
    log = store.log("log.example/a")
    assert log is not None
    assert (log.state.size, log.state.root) == (5, ROOT_A)


def test_the_state_never_goes_back_whatever_the_caller_expected(store: WitnessStore) -> None:
    store.advance(
        "log.example/a",
        expected_size=0,
        expected_root=None,
        size=5,
        root=ROOT_A,
        note=b"5",
        cosigned_at=1,
    )
    with pytest.raises(SizeConflict):
        store.advance(
            "log.example/a",
            expected_size=5,
            expected_root=ROOT_A,
            size=4,
            root=ROOT_B,
            note=b"4",
            cosigned_at=2,
        )
    log = store.log("log.example/a")
    assert log is not None
    assert log.state.size == 5


def test_advance_of_an_unknown_log_is_refused(store: WitnessStore) -> None:
    with pytest.raises(UnknownLog):
        store.advance(
            "log.example/b",
            expected_size=0,
            expected_root=None,
            size=1,
            root=ROOT_A,
            note=b"1",
            cosigned_at=1,
        )


def test_sizes_beyond_sqlite_integers_are_refused(store: WitnessStore) -> None:
    with pytest.raises(ValueError, match="outside"):
        store.advance(
            "log.example/a",
            expected_size=0,
            expected_root=None,
            size=MAX_TREE_SIZE + 1,
            root=ROOT_A,
            note=b"x",
            cosigned_at=1,
        )


def test_of_concurrent_advances_from_one_size_exactly_one_wins(store: WitnessStore) -> None:
    contenders = 12
    barrier = threading.Barrier(contenders)
    won: list[int] = []
    lost: list[int] = []

    def contend(i: int) -> None:
        # Each contender opens its own store, as separate server processes would.
        mine = WitnessStore(store.path)
        barrier.wait()
        try:
            mine.advance(
                "log.example/a",
                expected_size=0,
                expected_root=None,
                size=10 + i,
                root=bytes([i]) * 32,
                note=f"{i}".encode(),
                cosigned_at=i,
            )
        except SizeConflict as conflict:
            lost.append(conflict.size)
        else:
            won.append(i)

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert lost == [10 + won[0]] * (contenders - 1)
    log = store.log("log.example/a")
    assert log is not None
    assert log.state.size == 10 + won[0]


def test_adding_keys_to_a_followed_log_keeps_its_state(store: WitnessStore) -> None:
    store.advance(
        "log.example/a",
        expected_size=0,
        expected_root=None,
        size=3,
        root=ROOT_C,
        note=b"3",
        cosigned_at=1,
    )
    log = store.add_log("log.example/a", ["vkey-2", "vkey-1"])
    assert log.vkeys == ("vkey-1", "vkey-2")
    assert (log.state.size, log.state.root) == (3, ROOT_C)
    assert [found.origin for found in store.logs()] == ["log.example/a"]


def test_a_log_needs_an_origin_and_a_key(store: WitnessStore) -> None:
    with pytest.raises(ValueError, match="at least one key"):
        store.add_log("log.example/b", [])


def test_a_missing_state_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WitnessSetupInvalid, match="witness init"):
        WitnessStore(tmp_path / "witness.sqlite")


def test_an_existing_state_file_is_not_recreated(store: WitnessStore) -> None:
    with pytest.raises(WitnessSetupInvalid, match="exists already"):
        WitnessStore.create(store.path)
    log = store.log("log.example/a")
    assert log is not None


def test_a_state_file_of_another_schema_version_is_refused(store: WitnessStore) -> None:
    with sqlite3.connect(store.path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(WitnessSetupInvalid, match="schema version"):
        WitnessStore(store.path)


def test_refused_checkpoints_are_kept_in_order_up_to_a_bound(
    store: WitnessStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MAX_EVIDENCE", 3)
    store.add_log("log.example/b", ["vkey-b"])
    kept = [
        store.keep_evidence(
            "log.example/a",
            received_at=i,
            reason=f"reason {i}",
            note=b"n%d" % i,
            cosigned_note=None if i == 0 else b"c",
        )
        for i in range(5)
    ]
    assert kept == [True, True, True, False, False]
    assert store.keep_evidence(
        "log.example/b", received_at=9, reason="b", note=b"nb", cosigned_note=b"cb"
    )
    first = store.evidence("log.example/a")
    assert [(e.received_at, e.reason, e.note) for e in first] == [
        (0, "reason 0", b"n0"),
        (1, "reason 1", b"n1"),
        (2, "reason 2", b"n2"),
    ]
    assert first[0].cosigned_note is None
    assert [e.origin for e in store.evidence()] == ["log.example/a"] * 3 + ["log.example/b"]


def test_a_write_that_cannot_take_the_lock_is_busy_and_changes_nothing(
    store: WitnessStore,
) -> None:
    impatient = WitnessStore(store.path, busy_timeout=0.05)
    holder = sqlite3.connect(store.path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(WitnessBusy, match="retry"):
            impatient.advance(
                "log.example/a",
                expected_size=0,
                expected_root=None,
                size=1,
                root=ROOT_A,
                note=b"1",
                cosigned_at=1,
            )
        # Reads go on beside a writer (WAL).
        log = impatient.log("log.example/a")
        assert log is not None
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    log = store.log("log.example/a")
    assert log is not None
    assert log.state.size == 0
