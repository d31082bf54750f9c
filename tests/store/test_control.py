"""The control database: directory, principals, policy versions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from servinfo.crypto import hash_token, new_token
from servinfo.store import (
    DuplicateOrganization,
    DuplicatePrincipal,
    DuplicateSubject,
    InvalidRecord,
    PolicyVersionConflict,
    PolicyVersions,
    PrincipalStore,
    SubjectDirectory,
    UnknownOrganization,
    UnknownPrincipal,
    UnknownSubject,
)

LATER = datetime(2025, 6, 1, tzinfo=UTC)


def test_subject_inherits_its_organizations_home_region(directory: SubjectDirectory) -> None:
    subject = directory.get_subject("subj-us-1")
    assert (subject.org_id, subject.home_region, subject.jurisdiction) == ("org-us", "us", "us-ca")
    assert directory.get_organization("org-eu").parent_id == "partner-1"
    assert not subject.erased


def test_directory_refusals(directory: SubjectDirectory) -> None:
    with pytest.raises(UnknownOrganization):
        directory.register_subject("subj-x", "no-such-org", "de")
    with pytest.raises(UnknownOrganization):
        directory.add_organization("org-x", "X", "eu", parent_id="no-such-partner")
    with pytest.raises(DuplicateSubject):
        directory.register_subject("subj-eu-1", "org-eu", "de")
    with pytest.raises(DuplicateOrganization):
        directory.add_organization("org-eu", "Again", "eu")
    with pytest.raises(InvalidRecord, match="opaque id"):
        directory.register_subject("someone@example.test", "org-eu", "de")
    with pytest.raises(UnknownSubject):
        directory.get_subject("nobody")


def test_jurisdiction_and_erasure_marks(directory: SubjectDirectory) -> None:
    directory.set_jurisdiction("subj-eu-1", "ch")
    assert directory.get_subject("subj-eu-1").jurisdiction == "ch"
    directory.mark_erased("subj-eu-1", LATER)
    directory.mark_erased("subj-eu-1", datetime(2030, 1, 1, tzinfo=UTC))  # first mark kept
    assert directory.get_subject("subj-eu-1").erased_at == LATER
    assert directory.erased_among(["subj-eu-1", "subj-eu-2", "nobody"]) == {"subj-eu-1"}
    with pytest.raises(UnknownSubject):
        directory.set_jurisdiction("nobody", "de")


def test_principals_keep_only_token_hashes_and_fail_closed(control_engine: Engine) -> None:
    store = PrincipalStore(control_engine)
    token = new_token()
    added = store.add("alice.support", "employee", "support", "eu", "acme-eu", hash_token(token))
    assert store.by_token_hash(hash_token(token)) == added
    assert store.by_token_hash(hash_token(new_token())) is None
    with pytest.raises(DuplicatePrincipal):
        store.add("alice.support", "employee", "support", "eu", "acme-eu", hash_token(new_token()))
    with pytest.raises(DuplicatePrincipal, match="token"):
        store.add("bob", "agent", "support", None, None, hash_token(token))
    with pytest.raises(InvalidRecord, match="token_hash"):
        store.add("carol", "agent", "support", None, None, token)
    revoked = store.revoke("alice.support", now=LATER)
    assert revoked.revoked_at == LATER
    assert not revoked.active
    assert store.by_token_hash(hash_token(token)) is None
    assert store.by_token_hash(hash_token(token), include_revoked=True) == revoked
    assert [p.name for p in store.list()] == ["alice.support"]
    assert store.list(include_revoked=False) == []
    with pytest.raises(UnknownPrincipal):
        store.revoke("nobody")


def test_policy_versions_keep_history_and_one_active(control_engine: Engine) -> None:
    policies = PolicyVersions(control_engine)
    assert policies.active() is None
    policies.record("2025.1", '{"v": 1}', now=datetime(2025, 1, 1, tzinfo=UTC))
    policies.record("2025.2", '{"v": 2}', now=datetime(2025, 2, 1, tzinfo=UTC))
    active = policies.active()
    assert active is not None
    assert active.version == "2025.2"
    policies.activate("2025.1", now=LATER)
    assert [(p.version, p.is_active) for p in policies.history()] == [
        ("2025.1", True),
        ("2025.2", False),
    ]
    policies.record("2025.1", '{"v": 1}')  # same document: fine
    with pytest.raises(PolicyVersionConflict):
        policies.record("2025.1", '{"v": "changed"}')
