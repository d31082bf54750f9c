"""Reads of one record by id: decided on the current subject state, narrowed, audited.

And no read answered before its audit entries are committed: not in this process,
not after a kill, not when the append fails.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, update
from tests.api.world import World, build_world

from servinfo.access.errors import Denied
from servinfo.access.reads import ReadService
from servinfo.audit import AuditLog, reference
from servinfo.audit.buffer import AuditBuffer, AuditUnavailable
from servinfo.audit.sink import RecordedEvent
from servinfo.crypto import IntegrityError
from servinfo.store import Principal
from servinfo.store.models import RecordRow


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with build_world(tmp_path) as built:
        yield built


def _principal(world: World, name: str) -> Principal:
    return world.deployment.principals.get(name)


def _audited(world: World, before: int) -> list[tuple[str, str | None, str | None]]:
    world.deployment.audit_buffer.flush()
    audit = world.deployment.audit
    return [(e.action, e.outcome, e.purpose) for e in audit.entries(before, audit.size())]


def test_a_read_returns_what_the_purpose_may_see_and_audits_decision_and_read(
    world: World,
) -> None:
    before = world.deployment.audit.size()
    result = world.deployment.reads.read_record(
        _principal(world, "support-eu"), "provide", world.record_ids["login"]
    )
    (record,) = result.records
    assert record.record_id == world.record_ids["login"]
    assert record.fields["event"] == "login_success"
    assert result.decisions["telemetry"].allowed
    assert _audited(world, before) == [
        ("decision", "allow", "provide"),
        ("read", "allow", "provide"),
    ]
    # What the person's history shows of each: the policy version, role, entity, region.
    version = world.deployment.runtime.current.policy.version
    for entry in world.deployment.audit.entries(before, world.deployment.audit.size()):
        assert entry.policy_version == version
        assert entry.details["role"] == _principal(world, "support-eu").role
        assert "legal_entity" in entry.details
        assert "region" in entry.details


def test_a_ledger_change_applies_to_the_next_read(world: World) -> None:
    reads, support = world.deployment.reads, _principal(world, "support-eu")
    reads.read_record(support, "provide", world.record_ids["login"])  # the state is cached now
    world.deployment.ledgers.restrict("subj-eu-1", reason="accuracy contested", actor="dpo")
    world.deployment.audit_buffer.flush()
    before = world.deployment.audit.size()
    with pytest.raises(Denied) as denied:
        reads.read_record(support, "provide", world.record_ids["login"])
    assert any("restrict" in reason for reason in denied.value.reasons)
    assert _audited(world, before) == [("decision", "deny", "provide")]
    world.deployment.ledgers.lift_restriction("subj-eu-1", actor="dpo", subject_informed=True)
    assert reads.read_record(support, "provide", world.record_ids["login"]).records


def test_a_denied_read_decrypts_nothing(world: World) -> None:
    # The invoice's ciphertext is damaged: only a read that decrypts can notice.
    with world.deployment.regions["eu"].begin() as connection:
        connection.execute(
            update(RecordRow)
            .where(RecordRow.id == world.record_ids["invoice"])
            .values(ciphertext=b"\0" * 64)
        )
    reads = world.deployment.reads
    with pytest.raises(Denied):
        reads.read_record(_principal(world, "support-eu"), "provide", world.record_ids["invoice"])
    with pytest.raises(IntegrityError):
        reads.read_record(
            _principal(world, "billing-eu"), "provide.credit_check", world.record_ids["invoice"]
        )


#: How long a test waits for another thread or process before it fails.
PATIENCE = 30.0


def _reads_with(world: World, buffer: AuditBuffer) -> ReadService:
    deployment = world.deployment
    return ReadService(
        deployment.runtime,
        deployment.directory,
        deployment.regions,
        deployment.keyring,
        deployment.subject_states,
        buffer,
    )


def _committed(world: World) -> list[tuple[str, str | None]]:
    """The entries in the control database, read through a log of its own (no buffer)."""
    log = world.deployment.audit
    return [(e.action, e.outcome) for e in log.entries(0, log.size())]


def test_no_read_without_its_audit(world: World) -> None:
    closed = AuditBuffer(world.deployment.audit)
    closed.close()
    with pytest.raises(AuditUnavailable):
        _reads_with(world, closed).read_record(
            _principal(world, "support-eu"), "provide", world.record_ids["login"]
        )


def test_a_read_returns_only_once_its_entries_are_committed(world: World) -> None:
    before = len(_committed(world))
    reads, support = world.deployment.reads, _principal(world, "support-eu")
    assert reads.read_record(support, "provide", world.record_ids["login"]).records
    # No flush: what the read returned is already in the log.
    assert _committed(world)[before:] == [("decision", "allow"), ("read", "allow")]
    with pytest.raises(Denied):
        reads.read_record(support, "provide", world.record_ids["invoice"])
    assert _committed(world)[before + 2 :] == [("decision", "deny")]
    assert reads.read_subject(support, "provide", "subj-eu-1").records
    assert _committed(world)[-1] == ("read", "allow")


_READ_THEN_DIE = """
import os, sys
from pathlib import Path
from servinfo.deployment import open_deployment
deployment = open_deployment(Path(sys.argv[1]), {})
principal = deployment.principals.get("support-eu")
result = deployment.reads.read_record(principal, "provide", sys.argv[2])
print(result.records[0].record_id, flush=True)
os._exit(0)  # killed the moment the read returned: no flush, no close, no atexit
"""


def test_a_read_answered_before_a_kill_is_in_the_log(world: World, tmp_path: Path) -> None:
    before = len(_committed(world))
    record_id = world.record_ids["login"]
    done = subprocess.run(
        [sys.executable, "-c", _READ_THEN_DIE, str(tmp_path / "deployment"), record_id],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [record_id]  # the read was answered
    assert _committed(world)[before:] == [("decision", "allow"), ("read", "allow")]
    log = world.deployment.audit
    history = log.subject_history("subj-eu-1")
    assert history is not None  # the record's id is in the entry as the subject's reference
    assert log.entries(log.size() - 1, log.size())[0].record_ids == (
        reference(history.reference_key, record_id),
    )


class FailingLog:
    """An audit log whose appends fail, as a full disk or a lost database would."""

    def __init__(self) -> None:
        self.attempts = 0

    def record_many(
        self, events: Iterable[RecordedEvent], *, also: Callable[[Connection], None] | None = None
    ) -> range:
        self.attempts += 1
        raise OSError("disk full")


def test_a_failed_append_refuses_every_read_and_returns_no_data(world: World) -> None:
    failing = FailingLog()
    buffer = AuditBuffer(failing)
    try:
        reads, support = _reads_with(world, buffer), _principal(world, "support-eu")
        answers: list[object] = []
        with pytest.raises(AuditUnavailable, match="could not be appended"):
            answers.append(reads.read_record(support, "provide", world.record_ids["login"]))
        with pytest.raises(AuditUnavailable, match="could not be appended"):
            answers.append(reads.read_subject(support, "provide", "subj-eu-1"))
        with pytest.raises(AuditUnavailable, match="could not be appended"):
            answers.append(reads.explain(support, "provide", "telemetry", "eu", "subj-eu-1"))
        # A denial is not answered unrecorded either: 503, not 403.
        with pytest.raises(AuditUnavailable, match="could not be appended"):
            answers.append(reads.read_record(support, "provide", world.record_ids["invoice"]))
        assert answers == []
        assert failing.attempts == 4
    finally:
        buffer.close()


class GatedLog:
    """The deployment's log, with the first append held until ``gate`` opens."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self.first = threading.Event()  # the first append has started
        self.gate = threading.Event()

    def record_many(
        self, events: Iterable[RecordedEvent], *, also: Callable[[Connection], None] | None = None
    ) -> range:
        if not self.first.is_set():
            self.first.set()
            if not self.gate.wait(PATIENCE):
                raise TimeoutError("the test never opened the gate")
        return self.log.record_many(events)


def test_concurrent_readers_share_commits(world: World) -> None:
    gated = GatedLog(world.deployment.audit)
    buffer = AuditBuffer(gated)
    reads, support = _reads_with(world, buffer), _principal(world, "support-eu")
    answered: list[str] = []

    def read() -> None:
        result = reads.read_record(support, "provide", world.record_ids["login"])
        answered.append(result.records[0].record_id)

    try:
        readers = [threading.Thread(target=read)]
        readers[0].start()
        assert gated.first.wait(PATIENCE)  # the first read's group is being appended
        readers += [threading.Thread(target=read) for _ in range(8)]
        for thread in readers[1:]:
            thread.start()
        # The eight readers queue their two entries each behind the held append.
        deadline = time.monotonic() + PATIENCE
        while buffer.pending < 16 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert buffer.pending == 16
        gated.gate.set()
        for thread in readers:
            thread.join(PATIENCE)
    finally:
        gated.gate.set()
        buffer.close()
    assert len(answered) == 9
    assert buffer.appends == 2  # nine reads, two commits


def test_the_rights_role_reads_only_while_a_verified_request_is_open(world: World) -> None:
    rights, reads = world.deployment.rights, world.deployment.reads
    machinery, record_id = rights.rights_principal(), world.record_ids["profile"]
    with pytest.raises(Denied):
        reads.read_record(machinery, "legal", record_id)
    request = rights.open("access", "subj-eu-1", channel="api", actor="dpo", verified=True)
    assert reads.read_record(machinery, "legal", record_id).records
    rights.refuse(request.request_id, "synthetic test request", actor="dpo")
    with pytest.raises(Denied):
        reads.read_record(machinery, "legal", record_id)
