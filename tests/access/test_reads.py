"""Reads of one record by id: decided on the current subject state, narrowed, audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from tests.api.world import World, build_world

from servinfo.access.errors import Denied
from servinfo.access.reads import ReadService
from servinfo.audit.buffer import AuditBuffer, AuditUnavailable
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


def test_no_read_without_its_audit(world: World) -> None:
    deployment = world.deployment
    closed = AuditBuffer(deployment.audit)
    closed.close()
    reads = ReadService(
        deployment.runtime,
        deployment.directory,
        deployment.regions,
        deployment.keyring,
        deployment.subject_states,
        closed,
    )
    with pytest.raises(AuditUnavailable):
        reads.read_record(_principal(world, "support-eu"), "provide", world.record_ids["login"])


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
