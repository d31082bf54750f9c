"""The API's answers: JSON-ready dicts that round-trip into what an auditor verifies."""

from __future__ import annotations

import json

import pytest
from tests.audit.support import FakeClock, event

from servinfo.audit import (
    AuditLog,
    AuditService,
    ConsistencyBundle,
    EntryNotFound,
    InclusionBundle,
    TreeHead,
    verify_consistency_bundle,
    verify_inclusion_bundle,
    verify_tree_head,
)


def test_head_signs_the_empty_log_then_follows_the_schedule(
    audit_log: AuditLog, clock: FakeClock
) -> None:
    service = AuditService(audit_log)
    empty = TreeHead.from_dict(json.loads(json.dumps(service.head())))
    assert empty.tree_size == 0
    audit_log.record_many(event(i) for i in range(3))  # not due: 3 < 10 entries, < 60 s
    assert service.head()["tree_size"] == 0
    clock.advance(60)
    head = TreeHead.from_dict(service.head())
    assert head.tree_size == 3
    assert verify_tree_head(head, audit_log.public_keys())


def test_proofs_round_trip_as_json(audit_log: AuditLog) -> None:
    service = AuditService(audit_log)
    audit_log.record_many(event(i) for i in range(12))
    audit_log.record_many(event(i) for i in range(12, 30))
    keys = audit_log.public_keys()
    inclusion = InclusionBundle.from_json(json.dumps(service.inclusion_proof(5)))
    verify_inclusion_bundle(inclusion, keys)
    consistency = ConsistencyBundle.from_json(json.dumps(service.consistency_proof(12, 30)))
    verify_consistency_bundle(consistency, keys)
    with pytest.raises(EntryNotFound) as caught:
        service.inclusion_proof(99)
    assert caught.value.http_status == 404


def test_public_keys_name_the_current_key(audit_log: AuditLog) -> None:
    answer = AuditService(audit_log).public_keys()
    assert answer["current"] == "audit_signing:v1"
    assert set(answer["keys"]) == {"audit_signing:v1"}
