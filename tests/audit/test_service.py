"""The API's answers: a public checkpoint and keys, proofs that verify with a policy alone."""

from __future__ import annotations

import base64
import json

import pytest
from tests.audit.checkpoints import opened, policy, policy_text, witness
from tests.audit.support import ORIGIN, FakeClock, event

from servinfo.audit import AuditLog, AuditService, EntryNotFound, leaf_hash, verify_consistency
from servinfo.audit.checkpoint import Checkpoint
from servinfo.audit.errors import HeadNotFound
from servinfo.audit.note import Note
from servinfo.audit.policy import TrustPolicy
from servinfo.audit.tlog_proof import TlogProof


def test_the_checkpoint_signs_the_empty_log_then_follows_the_schedule(
    audit_log: AuditLog, clock: FakeClock
) -> None:
    service = AuditService(audit_log)
    empty = opened(audit_log, service.checkpoint())
    assert (empty.origin, empty.size) == (ORIGIN, 0)
    audit_log.record_many(event(i) for i in range(3))  # not due: 3 < 10 entries, < 60 s
    assert opened(audit_log, service.checkpoint()).size == 0
    clock.advance(60)
    assert opened(audit_log, service.checkpoint()).size == 3
    assert policy(audit_log).verify_checkpoint(service.checkpoint()).checkpoint.size == 3


def test_proofs_verify_with_the_published_policy(audit_log: AuditLog) -> None:
    service = AuditService(audit_log)
    audit_log.record_many(event(i) for i in range(12))
    audit_log.record_many(event(i) for i in range(12, 30))
    # An auditor checks with the published policy, and nothing else.
    trust = TrustPolicy.parse(service.trust_policy_text())
    proof = TlogProof.parse(service.inclusion_proof(5))
    assert proof.extra is not None
    assert proof.verify(leaf_hash(proof.extra), trust).checkpoint.size == 30
    answer = json.loads(json.dumps(service.consistency_proof(12, 30)))
    old = opened(audit_log, audit_log.signed_note(12))
    new = Checkpoint.from_body(Note.parse(answer["checkpoint"].encode()).text)
    hashes = [base64.b64decode(h) for h in answer["proof"]]
    assert answer["old_size"] == 12
    assert verify_consistency(12, 30, old.root_hash, new.root_hash, hashes)
    with pytest.raises(EntryNotFound) as caught:
        service.inclusion_proof(99)
    assert caught.value.http_status == 404
    with pytest.raises(HeadNotFound) as missing:
        service.consistency_proof(11, 30)
    assert missing.value.http_status == 404


def test_keys_name_every_version_and_the_policy(audit_log: AuditLog) -> None:
    answer = AuditService(audit_log).keys()
    assert answer["origin"] == ORIGIN
    assert [k["key_id"] for k in answer["log_keys"]] == ["audit_signing:v1"]
    assert answer["log_keys"][0]["vkey"] == audit_log.vkeys()[0]
    assert answer["log_keys"][0]["valid_until"] is None
    assert answer["witness_policy"] is None
    assert AuditService(audit_log).trust_policy_text() == policy_text(audit_log)


def test_the_trust_policy_carries_the_deployments_witnesses(audit_log: AuditLog) -> None:
    w = witness()
    service = AuditService(audit_log, policy(audit_log, [w]))
    text = service.trust_policy_text()
    assert text == policy_text(audit_log, [w])
    assert service.keys()["witness_policy"] == text
    assert TrustPolicy.parse(text).witness_verifiers()[0].key_id == w.key_id
