"""A batch of several chunks: rows inserted by the log's thread while the next chunk is built,
all or none, on both backends (PostgreSQL inserts inline)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select
from tests.audit.checkpoints import stored_rows
from tests.audit.support import AuditBackend, event

from servinfo.audit import AUDIT_MIGRATIONS, AuditEntry, AuditLog, leaf_hash
from servinfo.audit import log as log_module
from servinfo.audit._inserts import CHUNK, InsertThread
from servinfo.audit.models import AuditSubjectEntryRow, audit_metadata
from servinfo.store import create_engine_for, migrate_control

BATCH = 2 * CHUNK + 17  # three chunks, the last a short one
_entries = audit_metadata.tables["audit_entries"]


def _index_rows(audit_backend: AuditBackend) -> int:
    with audit_backend.engine.connect() as connection:
        count = connection.execute(
            select(func.count()).select_from(AuditSubjectEntryRow.__table__)
        ).scalar_one()
    return int(count)


def test_a_batch_of_several_chunks_is_stored_whole_and_in_order(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    audit_log.record_many([event(0)])
    events = [event(i, None if i % 5 == 0 else f"subj-{i % 70}") for i in range(1, BATCH + 1)]
    assert audit_log.record_many(events) == range(1, BATCH + 1)
    stored = stored_rows(audit_backend.engine)
    assert [seq for seq, _, _ in stored] == list(range(BATCH + 1))
    rows = [AuditEntry.from_canonical(data).details["rows"] for _, data, _ in stored]
    assert rows == list(range(BATCH + 1))
    assert all(digest == leaf_hash(data) for _, data, digest in stored)
    # Every entry about a subject is in the subjects' index, none twice.
    assert _index_rows(audit_backend) == 1 + sum(1 for e in events if e.subject_id is not None)
    history = audit_log.subject_history("subj-3")
    assert history is not None
    assert [seq for seq, _ in history.entries] == [i for i in range(1, BATCH + 1) if i % 70 == 3]
    assert audit_log.verify().entries == BATCH + 1


def test_a_failed_insert_in_the_thread_fails_the_whole_batch(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    """A row already at a seq of the second chunk (written around the log): the insert of
    that chunk fails, and the first chunk's rows go with the rollback."""
    audit_log.record_many([event(0)])
    planted = 1 + CHUNK + 5
    with audit_backend.engine.begin() as connection:
        connection.execute(insert(_entries).values(seq=planted, leaf_hash=bytes(32), entry=b"{}"))
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        audit_log.record_many(event(i) for i in range(1, BATCH + 1))
    assert [seq for seq, _, _ in stored_rows(audit_backend.engine)] == [0, planted]
    assert _index_rows(audit_backend) == 1
    with audit_backend.engine.begin() as connection:
        connection.execute(delete(_entries).where(_entries.c.seq == planted))
    # The state did not move: the same seqs are appended once the way is clear.
    assert audit_log.record_many(event(i) for i in range(1, BATCH + 1)) == range(1, BATCH + 1)
    assert audit_log.verify().entries == BATCH + 1


def test_a_failure_while_building_waits_for_the_thread_and_rolls_back(
    audit_log: AuditLog, audit_backend: AuditBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit_log.record_many([event(0)])
    build = log_module._entry_bytes
    calls = 0

    def failing_second_chunk(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the second chunk fails to build")
        return build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(log_module, "_entry_bytes", failing_second_chunk)
    with pytest.raises(RuntimeError, match="second chunk"):
        audit_log.record_many(event(i) for i in range(1, BATCH + 1))
    monkeypatch.setattr(log_module, "_entry_bytes", build)
    assert [seq for seq, _, _ in stored_rows(audit_backend.engine)] == [0]
    assert audit_log.record_many(event(i) for i in range(1, BATCH + 1)) == range(1, BATCH + 1)
    assert audit_log.verify().entries == BATCH + 1


def _insert_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("servinfo-audit-insert")}


def test_only_sqlite_batches_of_several_chunks_use_the_thread(
    audit_log: AuditLog, audit_backend: AuditBackend
) -> None:
    before = _insert_threads()
    audit_log.record_many(event(i) for i in range(CHUNK))
    assert not _insert_threads() - before
    audit_log.record_many(event(i) for i in range(CHUNK + 1))
    assert bool(_insert_threads() - before) == audit_backend.is_sqlite


def _thread_of(thread: InsertThread) -> threading.Thread:
    found: list[threading.Thread] = []
    thread.submit(lambda: found.append(threading.current_thread())).result(timeout=10)
    return found[0]


def test_a_forked_child_starts_its_own_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    thread = InsertThread()
    parent = _thread_of(thread)
    assert _thread_of(thread) is parent
    monkeypatch.setattr(os, "getpid", lambda: -1)
    assert _thread_of(thread) is not parent


def test_the_thread_ends_with_its_log() -> None:
    thread = InsertThread()
    worker = _thread_of(thread)
    del thread
    gc.collect()
    worker.join(timeout=10)
    assert not worker.is_alive()


_APPEND_AT_EXIT = """
import atexit, secrets, sys
from pathlib import Path
from servinfo.audit import AuditLog, RecordedEvent
from servinfo.crypto import Keyring, LocalMasterKeyWrapper
from servinfo.store import create_engine_for

folder = Path(sys.argv[1])
keyring = Keyring.create(folder / "keyring.json", LocalMasterKeyWrapper(bytes(32)), ["eu"])
log = AuditLog(
    create_engine_for(sys.argv[2]),
    keyring,
    signer_state_file=folder / "keys" / "audit-signer.json",
    origin="servinfo.invalid/servinfo/at-exit",
)
events = [
    RecordedEvent(
        action="read", actor="p_1", subject_id=f"subj-{i % 50}", purpose="billing",
        outcome="allow", reasons=(), record_ids=(f"r{i}",), details=None,
    )
    for i in range(int(sys.argv[3]))
]
# What the audit buffer's last flush does: an append while the interpreter shuts down.
atexit.register(log.record_many, events)
"""


def test_an_append_while_the_interpreter_exits_is_stored(tmp_path: Path) -> None:
    """The audit buffer flushes its last groups from an atexit handler: by then a
    ThreadPoolExecutor refuses new work, so the log's insert thread must not be one."""
    url = f"sqlite:///{tmp_path / 'control.db'}"
    engine = create_engine_for(url)
    migrate_control(engine, [AUDIT_MIGRATIONS])
    count = 2 * CHUNK + 1
    done = subprocess.run(
        [sys.executable, "-c", _APPEND_AT_EXIT, str(tmp_path), url, str(count)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Error" not in done.stderr, done.stderr[-2000:]
    assert [seq for seq, _, _ in stored_rows(engine)] == list(range(count))
    engine.dispose()
