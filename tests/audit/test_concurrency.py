"""Two processes appending to one log at once: batches interleave whole, seqs stay contiguous."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from tests.audit.support import ORIGIN, AuditBackend, event

from servinfo.audit import AuditLog
from servinfo.crypto import Keyring, LocalMasterKeyWrapper
from servinfo.store import create_engine_for

PER_PROCESS = 300
BATCH = 20


def _append(url: str, keyring_path: str, state_file: Path, worker: int, barrier: object) -> None:
    """Runs in a spawned process: its own engine, keyring and log."""
    keyring = Keyring.open(Path(keyring_path), LocalMasterKeyWrapper(bytes(range(32))))
    engine = create_engine_for(url)
    log = AuditLog(
        engine,
        keyring,
        signer_state_file=state_file,
        origin=ORIGIN,
        checkpoint_every_entries=50,
    )
    barrier.wait()  # type: ignore[attr-defined]
    for start in range(0, PER_PROCESS, BATCH):
        log.record_many(
            event(worker * 10_000 + i, f"subj-{i % 7}") for i in range(start, start + BATCH)
        )
    engine.dispose()


def test_two_processes_append_at_once_and_the_log_verifies(
    audit_log: AuditLog, audit_backend: AuditBackend, keyring: Keyring, signer_state_file: Path
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [
        context.Process(
            target=_append,
            args=(audit_backend.url, str(keyring.path), signer_state_file, worker, barrier),
        )
        for worker in (1, 2)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
    assert [p.exitcode for p in workers] == [0, 0]
    report = audit_log.verify()
    assert report.entries == 2 * PER_PROCESS
    entries = audit_log.entries(0, report.entries)
    assert [e.seq for e in entries] == list(range(2 * PER_PROCESS))
    # Each worker's entries arrived whole and in its own order.
    numbers = [e.details["rows"] for e in entries]
    for worker in (1, 2):
        rows = [n for n in numbers if isinstance(n, int) and n // 10_000 == worker]
        assert rows == [worker * 10_000 + i for i in range(PER_PROCESS)]
    # Both workers pseudonymized the same subjects with the same salts.
    assert len({e.subject_pseudonym for e in entries}) == 7
