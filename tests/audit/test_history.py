"""Entries of format 2 in the log, a subject's history through the index, and its erasure."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from tests.audit.checkpoints import stored_rows
from tests.audit.support import AuditBackend

from servinfo.audit import (
    AuditEntry,
    AuditLog,
    EntryInvalid,
    LogTampered,
    MemoryAuditSink,
    RecordedEvent,
    reference,
)
from servinfo.audit.buffer import AuditBuffer
from servinfo.crypto import PSEUDONYM, Keyring, Pseudonymizer
from servinfo.crypto.keyed_hash import KeyedReferences


def _index_rows(backend: AuditBackend) -> list[tuple[bytes, int]]:
    with backend.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT pseudonym, seq FROM audit_subject_entries ORDER BY seq")
        ).all()
    return [(bytes(p), int(s)) for p, s in rows]


def _read(audit_log: AuditLog) -> list[AuditEntry]:
    return audit_log.entries(0, audit_log.size())


def test_a_subject_history_holds_its_entries_and_their_reference_key(
    audit_log: AuditLog, audit_backend: AuditBackend, keyring: Keyring
) -> None:
    audit_log.record("policy_change", actor="admin", details={"n": 1})
    audit_log.record(
        "read",
        actor="alice@example.com",
        subject_id="subj-a",
        record_ids=["01JFAAAA", "01JFBBBB"],
        linked={"request_id": "req-7"},
        subject_actor=True,
    )
    audit_log.record_many(
        [
            RecordedEvent("decision", "p_1", "subj-b", "support", "allow", (), ("01JFCCCC",), {}),
            RecordedEvent("read", "p_2", "subj-a", "support", "allow", (), ("01JFAAAA",), {}),
        ]
    )
    history = audit_log.subject_history("subj-a")
    assert history is not None
    assert [seq for seq, _ in history.entries] == [1, 3]
    with audit_backend.engine.connect() as connection:
        rows = connection.execute(text("SELECT seq, entry FROM audit_entries WHERE seq IN (1, 3)"))
        stored = {int(seq): bytes(data) for seq, data in rows}
    assert [data for _, data in history.entries] == [stored[1], stored[3]]
    assert audit_log.subject_history("subj-nobody") is None
    assert "reference_key" not in repr(history)

    # The references are recomputable from the key with nothing but hmac.
    def plain(identifier: str) -> str:
        return (
            hmac.new(history.reference_key, identifier.encode(), hashlib.sha256).digest()[:16].hex()
        )

    first = json.loads(history.entries[0][1])
    assert first["v"] == 2
    assert first["actor"] == {"ref": plain("alice@example.com")}
    assert first["record_ids"] == [plain("01JFAAAA"), plain("01JFBBBB")]
    assert first["links"] == {"request_id": plain("req-7")}
    assert first["subject_pseudonym"] == history.pseudonym
    # A staff actor stays named; the same record id has the same reference in the subject's
    # entries, and no identifier is in clear.
    second = json.loads(history.entries[1][1])
    assert second["actor"] == "p_2"
    assert second["record_ids"] == [plain("01JFAAAA")]
    everything = b"".join(data for _, data in history.entries)
    for identifier in (b"alice@example.com", b"01JFAAAA", b"req-7", b"subj-a"):
        assert identifier not in everything
    assert reference(history.reference_key, "01JFBBBB") == plain("01JFBBBB")
    # The key is the documented derivation from the pseudonym key and the salt.
    with audit_backend.engine.connect() as connection:
        salt = connection.execute(
            text("SELECT salt FROM subject_salts WHERE subject_id = 'subj-a'")
        ).scalar_one()
    secret = keyring.current(PSEUDONYM).secret
    message = b"".join(
        len(field).to_bytes(4, "big") + field
        for field in (b"servinfo audit references v1", bytes(salt), b"subj-a")
    )
    assert history.reference_key == hmac.digest(secret, message, "sha256")
    # Every entry reads back; another subject's references are under another key.
    entries = _read(audit_log)
    assert entries[0].links == {}
    assert entries[2].record_ids != (reference(history.reference_key, "01JFCCCC"),)
    assert entries[1].subject_actor
    audit_log.verify()


def test_record_ids_of_entries_about_a_subject_are_references(audit_log: AuditLog) -> None:
    audit_log.record("read", actor="p_1", subject_id="subj-a", record_ids=["01JFAAAA"])
    audit_log.record("read", actor="p_1", record_ids=["01JFAAAA"])
    about, unnamed = _read(audit_log)
    history = audit_log.subject_history("subj-a")
    assert history is not None
    assert about.record_ids == (reference(history.reference_key, "01JFAAAA"),)
    assert unnamed.record_ids == ("01JFAAAA",)
    assert (about.v, unnamed.v) == (2, 2)


@pytest.mark.parametrize("changes", [{"linked": {"request_id": "r1"}}, {"subject_actor": True}])
def test_links_without_a_subject_are_refused_everywhere(
    audit_log: AuditLog, changes: dict[str, object]
) -> None:
    with pytest.raises(EntryInvalid, match="need a subject_id"):
        audit_log.record("read", actor="p_1", **changes)  # type: ignore[arg-type]
    with pytest.raises(EntryInvalid, match="need a subject_id"):
        MemoryAuditSink().record("read", actor="p_1", **changes)  # type: ignore[arg-type]
    buffer = AuditBuffer(audit_log)
    try:
        with pytest.raises(EntryInvalid, match="need a subject_id"):
            buffer.record("read", actor="p_1", **changes)  # type: ignore[arg-type]
    finally:
        buffer.close()
    assert audit_log.size() == 0


def test_link_names_are_lower_snake_case(audit_log: AuditLog) -> None:
    with pytest.raises(EntryInvalid, match="lower_snake_case"):
        audit_log.record("read", actor="p_1", subject_id="s", linked={"Request Id": "r1"})


def test_forgetting_a_subject_deletes_its_index_rows_with_its_salt(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    for subject in ("subj-a", "subj-b", "subj-a"):
        audit_log.record("read", actor="p_1", subject_id=subject, record_ids=["01JF"])
    before = audit_log.subject_history("subj-a")
    assert before is not None
    assert len(_index_rows(audit_backend)) == 3
    assert audit_log.forget_subject("subj-a")
    assert not audit_log.forget_subject("subj-a")
    assert audit_log.subject_history("subj-a") is None
    assert [seq for _, seq in _index_rows(audit_backend)] == [1]
    # Later entries get a new salt: a new pseudonym, new references, a history of their own.
    audit_log.record("read", actor="p_1", subject_id="subj-a", record_ids=["01JF"])
    after = audit_log.subject_history("subj-a")
    assert after is not None
    assert [seq for seq, _ in after.entries] == [3]
    assert after.pseudonym != before.pseudonym
    assert reference(after.reference_key, "01JF") != reference(before.reference_key, "01JF")
    audit_log.verify()


def test_a_batch_larger_than_one_index_statement_indexes_every_entry(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    """1,234 entries about subjects in one batch: SQLite writes their index rows in several
    statements (500 rows each, then the rest); every entry is indexed, once."""
    subjects = [f"subj-{n % 7}" for n in range(1_234)]
    audit_log.record("policy_change", actor="admin")
    seqs = audit_log.record_many(
        RecordedEvent("read", "p_1", subject, "support", "allow", (), (f"01JF{n}",), {})
        for n, subject in enumerate(subjects)
    )
    assert sorted(seq for _, seq in _index_rows(audit_backend)) == list(seqs)
    for n in range(7):
        history = audit_log.subject_history(f"subj-{n}")
        assert history is not None
        expected = [
            seq for seq, subject in zip(seqs, subjects, strict=True) if subject == f"subj-{n}"
        ]
        assert [seq for seq, _ in history.entries] == expected


def _pseudonym_of(audit_log: AuditLog, seq: int) -> str | None:
    return audit_log.entries(seq, seq + 1)[0].subject_pseudonym


def _other_process(audit_log: AuditLog, keyring: Keyring, tmp_path: Path) -> AuditLog:
    """Another process's log on the same database (it keeps its own salts), not signing."""
    return AuditLog(
        audit_log.engine,
        keyring,
        signer_state_file=tmp_path / "other-signer.json",
        origin=audit_log.origin,
        signs=False,
    )


def test_an_erasure_by_another_process_is_seen_by_the_next_batch(
    audit_log: AuditLog, keyring: Keyring, tmp_path: Path
) -> None:
    """Each process keeps the salts it saw committed; an erasure elsewhere counts from its
    commit on: the next batch here reads the salts again and makes the subject a new one."""
    other = _other_process(audit_log, keyring, tmp_path)
    audit_log.record("read", actor="p_1", subject_id="subj-a", record_ids=["01JF"])
    audit_log.record("read", actor="p_1", subject_id="subj-b", record_ids=["01JF"])
    before_a, before_b = _pseudonym_of(audit_log, 0), _pseudonym_of(audit_log, 1)
    assert other.forget_subject("subj-a")
    seqs = audit_log.record_many(
        [
            RecordedEvent("read", "p_1", "subj-a", "support", "allow", (), ("01JF",), {}),
            RecordedEvent("read", "p_1", "subj-b", "support", "allow", (), ("01JF",), {}),
        ]
    )
    after_a, after_b = _pseudonym_of(audit_log, seqs[0]), _pseudonym_of(audit_log, seqs[1])
    assert after_a is not None
    assert after_a != before_a
    assert after_b == before_b  # the other subject's salt is still stored: read again, same
    history = other.subject_history("subj-a")
    assert history is not None
    assert [seq for seq, _ in history.entries] == [seqs[0]]
    # And the other way round: the other process created the salt, this one erased it.
    other.record("read", actor="p_1", subject_id="subj-c", record_ids=["01JF"])
    assert audit_log.forget_subject("subj-c")
    seq = other.record("read", actor="p_1", subject_id="subj-c", record_ids=["01JF"])
    assert _pseudonym_of(audit_log, seq) != _pseudonym_of(audit_log, seq - 1)
    audit_log.verify()


def test_a_salt_created_by_a_batch_that_rolled_back_is_not_kept(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    def fail(_: object) -> None:
        raise RuntimeError("the caller's own write failed")

    event = RecordedEvent("read", "p_1", "subj-a", "support", "allow", (), ("01JF",), {})
    with pytest.raises(RuntimeError):
        audit_log.record_many([event], also=fail)
    with audit_backend.engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM subject_salts")).scalar_one() == 0
    seqs = audit_log.record_many([event])
    history = audit_log.subject_history("subj-a")
    assert history is not None
    assert [seq for seq, _ in history.entries] == list(seqs)
    assert f'"subject_pseudonym":"{history.pseudonym}"'.encode() in history.entries[0][1]


def test_an_index_row_for_someone_elses_entry_is_refused(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    audit_log.record("read", actor="p_1", subject_id="subj-a")
    audit_log.record("read", actor="p_1", subject_id="subj-b")
    history = audit_log.subject_history("subj-a")
    assert history is not None
    with audit_backend.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO audit_subject_entries (bucket, pseudonym, seq) VALUES (0, :p, 1)"),
            {"p": bytes.fromhex(history.pseudonym)},
        )
    with pytest.raises(LogTampered, match="about someone else"):
        audit_log.subject_history("subj-a")


def test_the_pseudonym_of_an_entry_is_the_documented_one(
    audit_log: AuditLog, audit_backend: AuditBackend, keyring: Keyring, tmp_path: Path
) -> None:
    audit_log.record("read", actor="p_1", subject_id="subj-a")
    history = audit_log.subject_history("subj-a")
    assert history is not None
    with audit_backend.engine.connect() as connection:
        salt = connection.execute(
            text("SELECT salt FROM subject_salts WHERE subject_id = 'subj-a'")
        ).scalar_one()
    pseudonymizer = Pseudonymizer(keyring.current(PSEUDONYM))
    assert history.pseudonym == pseudonymizer.pseudonym("subj-a", bytes(salt))
    assert _index_rows(audit_backend) == [(bytes.fromhex(history.pseudonym), 0)]


def test_a_new_pseudonym_key_is_used_from_the_next_batch_on(
    audit_log: AuditLog, audit_backend: AuditBackend, keyring: Keyring
) -> None:
    """The derivations a process keeps are its current key's: after a rotation the next
    batch about a known subject writes the new key's pseudonym, not a kept one."""
    audit_log.record("read", actor="p_1", subject_id="subj-a")
    audit_log.record("read", actor="p_1", subject_id="subj-a")  # from the kept derivation
    old = Pseudonymizer(keyring.current(PSEUDONYM))
    keyring.rotate(PSEUDONYM)
    new = Pseudonymizer(keyring.current(PSEUDONYM))
    audit_log.record("read", actor="p_1", subject_id="subj-a")
    with audit_backend.engine.connect() as connection:
        salt = bytes(
            connection.execute(
                text("SELECT salt FROM subject_salts WHERE subject_id = 'subj-a'")
            ).scalar_one()
        )
    named = [
        AuditEntry.from_canonical(data).subject_pseudonym
        for _, data, _ in stored_rows(audit_backend.engine)
    ]
    assert named == [old.pseudonym("subj-a", salt)] * 2 + [new.pseudonym("subj-a", salt)]


@settings(max_examples=200, deadline=None)
@given(key=st.binary(min_size=1, max_size=64), identifier=st.text())
def test_the_append_path_references_are_plain_hmac(key: bytes, identifier: str) -> None:
    try:
        data = identifier.encode()
    except UnicodeEncodeError:
        return  # lone surrogates are refused before any reference is made
    expected = hmac.new(key, data, hashlib.sha256).digest()[:16].hex()
    assert KeyedReferences(key).hex(data) == expected.encode()
    assert reference(key, identifier) == expected
