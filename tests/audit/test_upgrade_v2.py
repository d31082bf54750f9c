"""A log of format 1 entries, upgraded: its entries about subjects are indexed by the
migration (a0003) in chunks, still verify, and the history goes on in format 2."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text
from tests.audit.support import ORIGIN, FakeClock
from tests.support import PostgresDatabases

from servinfo.audit import AUDIT_MIGRATIONS, AuditEntry, AuditLog, CompactRange, reference
from servinfo.crypto import PSEUDONYM, Keyring, Pseudonymizer
from servinfo.store import create_engine_for, migrate_control
from servinfo.store.migrations import alembic_config

#: More than the migration reads in one chunk (10,000).
ENTRIES = 10_050


def _write_format_1_log(engine: Engine, keyring: Keyring) -> tuple[list[int], str]:
    """Entries of format 1 as the code before a0003 wrote them; every third about subj-a.
    The seqs about subj-a, and its pseudonym."""
    salt = os.urandom(32)
    pseudonym = Pseudonymizer(keyring.current(PSEUDONYM)).pseudonym("subj-a", salt)
    about, rows, leaves = [], [], []
    for seq in range(ENTRIES):
        named = seq % 3 == 0
        data = AuditEntry(
            seq=seq,
            at=1_700_000_000_000 + seq,
            actor="p_1",
            action="read",
            subject_pseudonym=pseudonym if named else (None if seq % 2 else "ab" * 16),
            record_ids=(f"01JF{seq:022d}",),
            v=1,
        ).canonical_bytes()
        leaf = hashlib.sha256(b"\x00" + data).digest()
        rows.append({"seq": seq, "leaf": leaf, "entry": data})
        leaves.append(leaf)
        if named:
            about.append(seq)
    frontier = CompactRange.from_leaf_hashes(leaves)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO audit_entries (seq, leaf_hash, entry) VALUES (:seq, :leaf, :entry)"),
            rows,
        )
        connection.execute(
            text("INSERT INTO subject_salts (subject_id, salt) VALUES ('subj-a', :salt)"),
            {"salt": salt},
        )
        connection.execute(
            text("UPDATE audit_state SET next_seq = :n, frontier = :f"),
            {"n": frontier.size, "f": frontier.to_bytes()},
        )
    return about, pseudonym


@pytest.mark.parametrize(
    "backend_name", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_format_1_entries_are_indexed_by_the_upgrade(
    backend_name: str, tmp_path: Path, keyring: Keyring, request: pytest.FixtureRequest
) -> None:
    if backend_name == "postgresql":
        databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
        url = databases.new("upgrade")
    else:
        url = f"sqlite:///{tmp_path / 'control.db'}"
    engine = create_engine_for(url)
    try:
        migrate_control(engine, [AUDIT_MIGRATIONS])
        config = alembic_config("control", [AUDIT_MIGRATIONS])
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "a0002")
        about, pseudonym = _write_format_1_log(engine, keyring)

        migrate_control(engine, [AUDIT_MIGRATIONS])

        log = AuditLog(
            engine,
            keyring,
            signer_state_file=tmp_path / "keys" / "signer.json",
            origin=ORIGIN,
            clock=FakeClock(),
        )
        history = log.subject_history("subj-a")
        assert history is not None
        assert history.pseudonym == pseudonym
        assert [seq for seq, _ in history.entries] == about
        old = AuditEntry.from_canonical(history.entries[-1][1])
        assert (old.v, old.record_ids) == (1, (f"01JF{about[-1]:022d}",))  # in clear: format 1
        # The history goes on in format 2, under the same salt and so the same pseudonym.
        seq = log.record("read", actor="p_1", subject_id="subj-a", record_ids=["01JFNEW"])
        history = log.subject_history("subj-a")
        assert history is not None
        assert [s for s, _ in history.entries] == [*about, seq]
        new = json.loads(history.entries[-1][1])
        assert (new["v"], new["subject_pseudonym"]) == (2, pseudonym)
        assert new["record_ids"] == [reference(history.reference_key, "01JFNEW")]
        report = log.verify()
        assert report.entries == ENTRIES + 1
        # Erasure takes the old entries' index rows too.
        assert log.forget_subject("subj-a")
        with engine.connect() as connection:
            left = connection.execute(text("SELECT COUNT(*) FROM audit_subject_entries"))
            # The entries naming another pseudonym ("abab…") stay indexed under it.
            assert left.scalar_one() == len([s for s in range(ENTRIES) if s % 3 and s % 2 == 0])
    finally:
        engine.dispose()
