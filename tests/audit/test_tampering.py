"""The tampering catalogue: every way of changing the stored log is found by ``AuditLog.verify``.

Without any key, whoever holds the database can change rows, delete them,
truncate, append, roll back or drop tables; each is found (:class:`LogTampered`,
:class:`HeadInvalid` or another :class:`AuditError`, never a crash), and the
signer refuses to sign a tree over the change. With the log key too, a
re-signed or forked history verifies on its own, but not against a checkpoint
an auditor saved before, nor against a witness's cosignatures.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text
from tests.audit.checkpoints import (
    cosign,
    execute,
    frontier_of,
    leaf_hashes,
    opened,
    policy,
    recompute_state,
    rewrite_entry,
    stored_entry,
    witness,
)
from tests.audit.support import START_MS, AuditBackend, event

from servinfo.audit import (
    AuditError,
    AuditLog,
    CompactRange,
    HeadInvalid,
    LogTampered,
    leaf_hash,
    sign_tree_head,
)
from servinfo.audit.auditor import NotWitnessed, verify_witnessed
from servinfo.audit.errors import CheckpointInvalid
from servinfo.audit.note import Ed25519NoteSigner, Note, sign_note
from servinfo.audit.signer import SignerRefused
from servinfo.crypto import Keyring

#: The witnesses' clock in these tests: shortly after the entries were appended.
WITNESS_TIME = START_MS // 1000 + 10


@pytest.fixture
def full_log(audit_log: AuditLog) -> AuditLog:
    """45 entries in batches of 15: checkpoints at 15, 30 and 45."""
    for start in range(0, 45, 15):
        audit_log.record_many(event(i) for i in range(start, start + 15))
    assert audit_log.checkpoint_sizes() == [15, 30, 45]
    assert audit_log.verify().entries == 45
    return audit_log


def _tampered(log: AuditLog) -> LogTampered:
    with pytest.raises(LogTampered) as caught:
        log.verify()
    return caught.value


# -- entries --------------------------------------------------------------------------------


def test_changed_content_is_found_at_its_entry(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    rewrite_entry(audit_backend.engine, 20, rehash=False)
    error = _tampered(full_log)
    assert (error.index, error.reason) == (
        20,
        "its stored bytes do not hash to its stored leaf hash",
    )


def test_changed_leaf_hash_is_found_at_its_entry(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    execute(
        audit_backend.engine, "UPDATE audit_entries SET leaf_hash = :h WHERE seq = 7", h=bytes(32)
    )
    assert _tampered(full_log).index == 7


def test_content_changed_with_its_hash_is_found_after_the_last_good_checkpoint(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    rewrite_entry(audit_backend.engine, 20)
    error = _tampered(full_log)
    assert error.index == 15  # the checkpoint at 15 still vouches for 0..14
    assert "root signed in checkpoint 30" in error.reason


def test_swapped_and_renumbered_rows_are_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    execute(
        audit_backend.engine,
        "UPDATE audit_entries SET seq = 1000 WHERE seq = 3",
        "UPDATE audit_entries SET seq = 3 WHERE seq = 4",
        "UPDATE audit_entries SET seq = 4 WHERE seq = 1000",
    )
    assert _tampered(full_log).index == 0  # nothing before the first checkpoint vouches


def test_a_deleted_row_is_found(full_log: AuditLog, audit_backend: AuditBackend) -> None:
    execute(audit_backend.engine, "DELETE FROM audit_entries WHERE seq = 33")
    error = _tampered(full_log)
    assert (error.index, error.reason) == (
        33,
        "found entry 34 in its place: entries were deleted or reordered",
    )


def test_five_rewritten_entries_with_a_recomputed_state_are_found_and_never_signed(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    """Checkpoints deleted, five entries rewritten with their hashes, the sequencing state
    recomputed from the rows: no checkpoint vouches for the forgery, and none will."""
    engine = audit_backend.engine
    signed = full_log.signer_state()
    execute(engine, "DELETE FROM audit_checkpoints")
    for seq in range(20, 25):
        rewrite_entry(engine, seq)
    recompute_state(engine)
    with pytest.raises(LogTampered, match="no longer holds"):
        full_log.verify()
    with pytest.raises((LogTampered, SignerRefused)):
        full_log.checkpoint()
    # An honest append afterwards does not make the forgery signable.
    full_log.record_many(event(i) for i in range(45, 47))
    with pytest.raises((LogTampered, SignerRefused)):
        full_log.checkpoint()
    assert full_log.signer_state() == signed
    assert full_log.checkpoint_sizes() == []
    with pytest.raises(LogTampered):
        full_log.verify()


def test_an_entry_stored_as_text_is_found(full_log: AuditLog, audit_backend: AuditBackend) -> None:
    engine = audit_backend.engine
    if audit_backend.is_sqlite:
        execute(engine, "UPDATE audit_entries SET entry = CAST(entry AS TEXT) WHERE seq = 12")
        error = _tampered(full_log)
        assert (error.index, error.reason) == (12, "it is not stored as bytes")
        return
    # PostgreSQL keeps one type per column: the whole column becomes text, then is restored.
    with _retyped(engine):
        error = _tampered(full_log)
        assert (error.index, error.reason) == (0, "it is not stored as bytes")
    assert full_log.verify().entries == 45


@contextmanager
def _retyped(engine: Engine) -> Iterator[None]:
    execute(
        engine,
        "ALTER TABLE audit_entries ALTER COLUMN entry TYPE text USING convert_from(entry, 'UTF8')",
    )
    try:
        yield
    finally:
        execute(
            engine,
            "ALTER TABLE audit_entries ALTER COLUMN entry TYPE bytea"
            " USING convert_to(entry, 'UTF8')",
        )


# -- truncation, appends and rollback -------------------------------------------------------


def test_truncation_below_the_latest_checkpoint_is_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    execute(audit_backend.engine, "DELETE FROM audit_entries WHERE seq >= 40")
    error = _tampered(full_log)
    assert error.index == 40
    assert "checkpoint 45 covers 45: entries 40..44 were removed" in error.reason


def test_truncation_of_the_unsigned_tail_is_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    full_log.record_many(event(i) for i in range(45, 48))  # not yet signed
    execute(audit_backend.engine, "DELETE FROM audit_entries WHERE seq >= 46")
    error = _tampered(full_log)
    assert error.index == 46
    assert "46 entries but 48 were appended" in error.reason


def test_truncation_back_to_an_older_checkpoint_is_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    """Rows, checkpoints and state all cut back to the checkpoint at 30, consistently."""
    engine = audit_backend.engine
    execute(
        engine,
        "DELETE FROM audit_entries WHERE seq >= 30",
        "DELETE FROM audit_checkpoints WHERE tree_size > 30",
    )
    recompute_state(engine)
    error = _tampered(full_log)
    assert "signer signed a checkpoint of size 45" in error.reason
    with pytest.raises((LogTampered, SignerRefused)):
        full_log.checkpoint()


@pytest.mark.parametrize("update_state", [False, True], ids=["rows-only", "with-state"])
def test_a_forged_row_appended_is_found(
    full_log: AuditLog, audit_backend: AuditBackend, update_state: bool
) -> None:
    engine = audit_backend.engine
    full_log.record_many(event(i) for i in range(45, 48))  # an unsigned tail to extend
    data = stored_entry(engine, 47).replace(b'"seq":47', b'"seq":48')
    execute(
        engine,
        "INSERT INTO audit_entries (seq, leaf_hash, entry) VALUES (48, :hash, :entry)",
        hash=leaf_hash(data),
        entry=data,
    )
    if not update_state:
        error = _tampered(full_log)
        assert (error.index, error.reason) == (
            48,
            "entries 48..48 are stored but were never appended",
        )
        return
    recompute_state(engine)  # consistent with the rows, but its MAC is the old state's
    with pytest.raises(LogTampered, match="MAC does not verify"):
        full_log.verify()
    with pytest.raises(LogTampered, match="MAC does not verify"):
        full_log.checkpoint()


def test_a_forged_unsigned_tail_is_not_laundered_by_the_next_append(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    """Entries after the latest checkpoint rewritten and the state recomputed: an honest append
    afterwards must not give the forged state a valid MAC for the signer to sign."""
    engine = audit_backend.engine
    full_log.record_many(event(i) for i in range(45, 50))
    for seq in range(46, 49):
        rewrite_entry(engine, seq)
    recompute_state(engine)
    full_log.record_many(event(i) for i in range(50, 52))
    with pytest.raises(LogTampered, match="MAC"):
        full_log.verify()
    with pytest.raises((LogTampered, SignerRefused)):
        full_log.checkpoint()
    assert full_log.checkpoint_sizes() == [15, 30, 45]


def _rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]  # noqa: S608
            for table in _TABLES
        }


_TABLES = ("audit_entries", "audit_checkpoints", "audit_cosignatures", "audit_state")


def _restore(engine: Engine, saved: dict[str, list[tuple[object, ...]]]) -> None:
    with engine.begin() as connection:
        for table, rows in saved.items():
            connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608
            for row in rows:
                marks = ", ".join(f":c{n}" for n in range(len(row)))
                connection.execute(
                    text(f"INSERT INTO {table} VALUES ({marks})"),  # noqa: S608
                    {f"c{n}": value for n, value in enumerate(row)},
                )


def test_a_rollback_to_an_older_copy_of_the_tables_is_found(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    engine = audit_backend.engine
    audit_log.record_many(event(i) for i in range(15))
    saved = _rows(engine)
    assert audit_log.verify().entries == 15
    audit_log.record_many(event(i) for i in range(15, 30))
    _restore(engine, saved)  # a valid log of 15 entries, as it was
    error = _tampered(audit_log)
    assert "signer signed a checkpoint of size 30" in error.reason
    assert "rolled back" in error.reason
    with pytest.raises((LogTampered, SignerRefused)):
        audit_log.checkpoint()


def test_a_rollback_of_the_database_file_is_found(
    audit_log: AuditLog, audit_backend: AuditBackend, tmp_path: Path
) -> None:
    if not audit_backend.is_sqlite:
        pytest.skip("a file copy is SQLite's rollback; the tables' copy covers PostgreSQL")
    database = Path(audit_backend.engine.url.database or "")
    audit_log.record_many(event(i) for i in range(15))
    audit_backend.engine.dispose()
    shutil.copyfile(database, tmp_path / "copy.db")
    audit_log.record_many(event(i) for i in range(15, 30))
    audit_backend.engine.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "copy.db", database)
    assert "rolled back" in _tampered(audit_log).reason


# -- checkpoints and heads ------------------------------------------------------------------


def test_every_checkpoint_deleted_is_found(full_log: AuditLog, audit_backend: AuditBackend) -> None:
    execute(audit_backend.engine, "DELETE FROM audit_checkpoints")
    error = _tampered(full_log)
    assert "signer signed a checkpoint of size 45 that the database no longer holds" in (
        error.reason
    )


def test_a_middle_checkpoint_deleted_is_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    execute(audit_backend.engine, "DELETE FROM audit_checkpoints WHERE tree_size = 30")
    error = _tampered(full_log)
    assert error.index == 15
    assert "checkpoint 45 does not follow the stored checkpoint 15" in error.reason


def test_the_first_checkpoint_deleted_is_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    execute(audit_backend.engine, "DELETE FROM audit_checkpoints WHERE tree_size = 15")
    assert "checkpoints were deleted" in _tampered(full_log).reason


def test_the_latest_checkpoint_deleted_is_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    execute(audit_backend.engine, "DELETE FROM audit_checkpoints WHERE tree_size = 45")
    error = _tampered(full_log)
    assert (error.index, "signer signed a checkpoint of size 45" in error.reason) == (30, True)


def test_a_checkpoint_note_altered_is_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    note = full_log.signed_note(30).replace(b"\n30\n", b"\n31\n", 1)
    execute(
        audit_backend.engine, "UPDATE audit_checkpoints SET note = :n WHERE tree_size = 30", n=note
    )
    assert "checkpoint 30 is not signed by the log key" in _tampered(full_log).reason


def test_a_checkpoint_stored_under_another_size_is_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    execute(
        audit_backend.engine,
        "UPDATE audit_checkpoints SET note = :n WHERE tree_size = 30",
        n=full_log.signed_note(15),
    )
    assert "checkpoint 30 is stored under the size 15" in _tampered(full_log).reason


def test_a_forged_checkpoint_frontier_is_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    bogus = CompactRange(30, [bytes(32)] * 4).to_bytes()
    execute(
        audit_backend.engine,
        "UPDATE audit_checkpoints SET frontier = :f WHERE tree_size = 30",
        f=bogus,
    )
    assert "does not fold to its signed root" in _tampered(full_log).reason


def test_a_forged_sequencer_frontier_is_found(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    full_log.record_many(event(i) for i in range(45, 48))
    bogus = CompactRange(48, [bytes(32)] * 2).to_bytes()
    execute(audit_backend.engine, "UPDATE audit_state SET frontier = :f", f=bogus)
    assert _tampered(full_log).index == 45


@pytest.mark.parametrize("table", ["audit_checkpoints", "audit_entries", "audit_state"])
def test_a_dropped_table_is_a_clean_audit_error(
    full_log: AuditLog, audit_backend: AuditBackend, table: str
) -> None:
    with _dropped(audit_backend, table), pytest.raises(AuditError, match="audit log"):
        full_log.verify()


@contextmanager
def _dropped(backend: AuditBackend, table: str) -> Iterator[None]:
    """The table is gone (on PostgreSQL renamed away and back: the database is shared)."""
    if backend.is_sqlite:
        execute(backend.engine, f"DROP TABLE {table}")
        yield
        return
    execute(backend.engine, f"ALTER TABLE {table} RENAME TO {table}_gone")
    try:
        yield
    finally:
        execute(backend.engine, f"ALTER TABLE {table}_gone RENAME TO {table}")


# -- legacy heads (signed before checkpoints) -----------------------------------------------


@pytest.fixture
def headed_log(full_log: AuditLog, audit_backend: AuditBackend, keyring: Keyring) -> AuditLog:
    """The log with two legacy heads, at 15 and 30, as the log signed them before checkpoints."""
    hashes = leaf_hashes(audit_backend.engine)
    for size in (15, 30):
        frontier = frontier_of(hashes[:size])
        head = sign_tree_head(
            keyring.signing_key(), "audit_signing:v1", size, frontier.root(), START_MS
        )
        execute(
            audit_backend.engine,
            "INSERT INTO audit_heads (tree_size, root_hash, timestamp, key_id, signature, "
            "frontier) VALUES (:size, :root, :ts, :key, :sig, :frontier)",
            size=size,
            root=head.root_hash,
            ts=head.timestamp,
            key=head.key_id,
            sig=head.signature,
            frontier=frontier.to_bytes(),
        )
    assert full_log.verify().heads == 2
    return full_log


def test_every_checkpoint_and_head_deleted_is_found(
    headed_log: AuditLog, audit_backend: AuditBackend
) -> None:
    execute(audit_backend.engine, "DELETE FROM audit_checkpoints", "DELETE FROM audit_heads")
    assert "no longer holds" in _tampered(headed_log).reason


def test_a_legacy_head_signed_with_another_key_is_refused(
    headed_log: AuditLog, audit_backend: AuditBackend, other_key: Ed25519PrivateKey
) -> None:
    root = frontier_of(leaf_hashes(audit_backend.engine, 30)).root()
    forged = sign_tree_head(other_key, "audit_signing:v1", 30, root, START_MS)
    execute(
        audit_backend.engine,
        "UPDATE audit_heads SET signature = :sig WHERE tree_size = 30",
        sig=forged.signature,
    )
    with pytest.raises(HeadInvalid, match="signature does not verify") as caught:
        headed_log.verify()
    assert caught.value.tree_size == 30


def test_a_legacy_head_signed_over_a_wrong_root_names_the_entries(
    headed_log: AuditLog, audit_backend: AuditBackend, keyring: Keyring
) -> None:
    wrong = sign_tree_head(keyring.signing_key(), "audit_signing:v1", 30, bytes(32), START_MS)
    execute(
        audit_backend.engine,
        "UPDATE audit_heads SET root_hash = :root, signature = :sig WHERE tree_size = 30",
        root=wrong.root_hash,
        sig=wrong.signature,
    )
    error = _tampered(headed_log)
    assert error.index == 15


# -- with the log key: a re-signed history, a fork ----------------------------------------


def _resign_from(log: AuditLog, engine: Engine, state_file: Path, keep: int) -> None:
    """What the holder of the key and the database can do: forget the signer's memory, cut
    the log back to ``keep`` entries, append another history and sign it with the real key."""
    state_file.unlink()
    hashes = leaf_hashes(engine, keep)
    execute(
        engine,
        "DELETE FROM audit_checkpoints",
        "DELETE FROM audit_entries WHERE seq >= :keep",
        "UPDATE audit_state SET next_seq = :keep, frontier = :frontier, mac = NULL",
        keep=keep,
        frontier=frontier_of(hashes).to_bytes(),
    )
    log.record_many(event(i, "subj-forged") for i in range(keep, 45))
    log.checkpoint()


@pytest.mark.parametrize("keep", [0, 15], ids=["re-signed", "fork"])
def test_a_resigned_history_fails_against_a_checkpoint_saved_before(
    full_log: AuditLog, audit_backend: AuditBackend, signer_state_file: Path, keep: int
) -> None:
    saved = full_log.latest_checkpoint()
    assert saved is not None
    _resign_from(full_log, audit_backend.engine, signer_state_file, keep)
    report = full_log.verify()  # on its own, the new history is consistent
    assert (report.entries, report.checkpoints) == (45, 1)
    assert opened(full_log, full_log.signed_note(45)).root_hash != opened(full_log, saved).root_hash
    error = _tampered_against(full_log, saved)
    assert "rewritten or forked after it was saved" in error.reason


def _tampered_against(log: AuditLog, *trusted: bytes) -> LogTampered:
    with pytest.raises(LogTampered) as caught:
        log.verify(trusted=list(trusted))
    return caught.value


def test_a_saved_checkpoint_of_the_common_prefix_still_verifies(
    full_log: AuditLog, audit_backend: AuditBackend, signer_state_file: Path
) -> None:
    """A fork after 15 entries: the checkpoint saved at 15 is still in it; the one at 30 not."""
    at_15, at_30 = full_log.signed_note(15), full_log.signed_note(30)
    _resign_from(full_log, audit_backend.engine, signer_state_file, 15)
    assert full_log.verify(trusted=[at_15]).entries == 45
    assert _tampered_against(full_log, at_15, at_30).index == 15


def test_a_trusted_checkpoint_past_a_truncated_log_means_a_rollback(
    full_log: AuditLog, audit_backend: AuditBackend, signer_state_file: Path
) -> None:
    saved = full_log.signed_note(45)
    _resign_from(full_log, audit_backend.engine, signer_state_file, 30)
    execute(audit_backend.engine, "DELETE FROM audit_entries WHERE seq >= 40")
    assert _tampered_against(full_log, saved).index < 45


def test_a_trusted_checkpoint_not_signed_by_the_log_key_is_refused(
    full_log: AuditLog, other_key: Ed25519PrivateKey
) -> None:
    body = Note.parse(full_log.signed_note(45)).text
    forged = sign_note(body, [Ed25519NoteSigner(full_log.origin, other_key)])
    # Bad input, not a finding about the log.
    with pytest.raises(CheckpointInvalid, match="trusted checkpoint #1 is not signed by the log"):
        full_log.verify(trusted=[forged])


# -- witnesses ------------------------------------------------------------------------------


def test_a_forged_cosignature_row_fails_the_witness_check(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    w = witness()
    trust = policy(full_log, [w])
    cosign(full_log, w, 45, WITNESS_TIME)
    witnessed = verify_witnessed(
        full_log, trust, entries=45, max_unwitnessed=60, clock=lambda: WITNESS_TIME + 1
    )
    assert witnessed is not None
    assert (witnessed.size, witnessed.witnesses) == (45, ("w0",))
    # A row claiming the witness cosigned checkpoint 30: the signature is not the witness's.
    execute(
        audit_backend.engine,
        "INSERT INTO audit_cosignatures (tree_size, name, key_id, signature)"
        " VALUES (30, :name, :key_id, :sig)",
        name=w.name,
        key_id=w.key_id,
        sig=WITNESS_TIME.to_bytes(8, "big") + bytes(64),
    )
    with pytest.raises(NotWitnessed, match="checkpoint 30: invalid signature"):
        verify_witnessed(
            full_log, trust, entries=45, max_unwitnessed=60, clock=lambda: WITNESS_TIME
        )


def test_a_cosignature_moved_to_another_checkpoint_fails_the_witness_check(
    full_log: AuditLog, audit_backend: AuditBackend
) -> None:
    w = witness()
    cosign(full_log, w, 30, WITNESS_TIME)
    execute(audit_backend.engine, "UPDATE audit_cosignatures SET tree_size = 45")
    with pytest.raises(NotWitnessed, match="checkpoint 45"):
        verify_witnessed(
            full_log, policy(full_log, [w]), entries=45, max_unwitnessed=60,
            clock=lambda: WITNESS_TIME,
        )  # fmt: skip


def test_a_resigned_history_has_no_witness(
    full_log: AuditLog, audit_backend: AuditBackend, signer_state_file: Path
) -> None:
    """The witness cosigned the old history; the re-signed one is not cosigned by anyone."""
    w = witness()
    cosign(full_log, w, 45, WITNESS_TIME)
    execute(audit_backend.engine, "DELETE FROM audit_cosignatures")
    _resign_from(full_log, audit_backend.engine, signer_state_file, 0)
    with pytest.raises(NotWitnessed, match="no checkpoint"):
        verify_witnessed(
            full_log, policy(full_log, [w]), entries=45, max_unwitnessed=60,
            clock=lambda: WITNESS_TIME,
        )  # fmt: skip
