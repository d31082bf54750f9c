"""subject_state: exactly the SubjectState access decisions take, built from the ledgers."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import Engine

from servinfo.access.decisions import Actor, SubjectState, compile_policy, decide
from servinfo.audit import MemoryAuditSink
from servinfo.ledgers import Ledgers
from servinfo.policy import Policy
from servinfo.store import SubjectDirectory, UnknownSubject

ACTOR = "privacy-officer"
ANALYST = Actor(
    principal_id="analyst-1", kind="employee", role="product_analyst", entity="ims_eu", region="eu"
)


def test_a_subject_with_no_entries(ledgers: Ledgers) -> None:
    assert ledgers.subject_state("subj-de") == SubjectState.unrestricted("subj-de", "gdpr")


@pytest.mark.parametrize(
    ("subject_id", "regime"),
    [
        ("subj-de", "gdpr"),
        ("subj-gb", "uk_gdpr"),
        ("subj-ca", "ccpa"),
        ("subj-ny", "gdpr"),  # no regime lists US-NY: the policy's default regime
        ("subj-sg", "pdpa"),  # registered as 'sg': country codes are case-insensitive
    ],
)
def test_regime_follows_the_jurisdiction(ledgers: Ledgers, subject_id: str, regime: str) -> None:
    assert ledgers.subject_state(subject_id).regime == regime


def test_everything_at_once(ledgers: Ledgers, policy_version: str, now: datetime) -> None:
    ledgers.object("subj-gb", "improve_use", ACTOR, now=now)
    ledgers.object("subj-gb", "improve_service", ACTOR, now=now)
    ledgers.withdraw_objection("subj-gb", "improve_service", ACTOR, now=now)
    ledgers.give_consent(
        "subj-gb", purpose="protect", notice_version=policy_version, actor="subject", now=now
    )
    ledgers.give_consent(
        "subj-gb", recipient="acme", notice_version=policy_version, actor="subject", now=now
    )
    ledgers.restrict("subj-gb", "objection pending", ACTOR, allows=("legal",), now=now)

    assert ledgers.subject_state("subj-gb") == SubjectState(
        subject_id="subj-gb",
        regime="uk_gdpr",
        objections=frozenset({"improve_use"}),
        restricted=True,
        restriction_allows=frozenset({"legal", "protect"}),
        consents=frozenset({"protect", "acme"}),
        open_verified_request=False,
        version=6,
    )


def test_batched_states_match_single_ones(ledgers: Ledgers, now: datetime) -> None:
    ledgers.object("subj-de", "improve_use", ACTOR, now=now)
    ledgers.restrict("subj-ca", "accuracy contested", ACTOR, now=now)
    ids = ["subj-de", "subj-ca", "subj-sg", "subj-de"]
    batched = ledgers.subject_states(ids)
    assert list(batched) == ["subj-de", "subj-ca", "subj-sg"]
    for subject_id, state in batched.items():
        assert state == ledgers.subject_state(subject_id)
    with pytest.raises(UnknownSubject):
        ledgers.subject_states(["subj-de", "subj-nobody"])


def test_open_request_check_is_consulted(
    engine: Engine, directory: SubjectDirectory, audit: MemoryAuditSink, policy: Policy
) -> None:
    with_requests = Ledgers(
        engine, directory, audit, lambda: policy, open_request_check=lambda s: s == "subj-de"
    )
    assert with_requests.subject_state("subj-de").open_verified_request
    assert not with_requests.subject_state("subj-gb").open_verified_request


def test_every_change_gives_a_new_cache_key(
    ledgers: Ledgers, policy_version: str, now: datetime
) -> None:
    keys = {ledgers.subject_state("subj-de").cache_key}
    ledgers.object("subj-de", "improve_use", ACTOR, now=now)
    keys.add(ledgers.subject_state("subj-de").cache_key)
    ledgers.withdraw_objection("subj-de", "improve_use", ACTOR, now=now)
    keys.add(ledgers.subject_state("subj-de").cache_key)
    ledgers.give_consent(
        "subj-de", purpose="improve_use", notice_version=policy_version, actor="s", now=now
    )
    keys.add(ledgers.subject_state("subj-de").cache_key)
    assert len(keys) == 4
    assert ledgers.global_version() == 3


def test_decisions_follow_the_ledgers(ledgers: Ledgers, policy: Policy, now: datetime) -> None:
    compiled = compile_policy(policy, date(2025, 3, 1))

    def allowed() -> bool:
        state = ledgers.subject_state("subj-de")
        return decide(compiled, ANALYST, "improve_use", "telemetry", "eu", state).allowed

    assert allowed()
    ledgers.object("subj-de", "improve_use", ACTOR, now=now)
    assert not allowed()
    ledgers.withdraw_objection("subj-de", "improve_use", ACTOR, now=now)
    assert allowed()
    ledgers.restrict("subj-de", "accuracy contested", ACTOR, now=now)
    assert not allowed()


def test_one_statement_state_matches_the_ledger_listings(
    ledgers: Ledgers, engine: Engine, policy_version: str, now: datetime
) -> None:
    """The single-statement read agrees with the per-ledger queries on a mixed history."""
    from servinfo.ledgers import _queries

    ledgers.object("subj-de", "improve_use", ACTOR, now=now)
    ledgers.object("subj-de", "improve_service", ACTOR, now=now)
    ledgers.withdraw_objection("subj-de", "improve_use", ACTOR, now=now)
    for _ in range(2):
        ledgers.give_consent(
            "subj-de", purpose="protect", notice_version=policy_version, actor="subject", now=now
        )
        ledgers.withdraw_consent(
            "subj-de", purpose="protect", notice_version=policy_version, actor="subject", now=now
        )
    ledgers.give_consent(
        "subj-ca", recipient="acme", notice_version=policy_version, actor="subject", now=now
    )
    ledgers.restrict("subj-ca", "contested", ACTOR, allows=("legal",), now=now)
    ledgers.lift_restriction("subj-ca", ACTOR, subject_informed=True, now=now)
    ledgers.restrict("subj-ca", "again", ACTOR, allows=("legal",), now=now)
    ids = ["subj-de", "subj-ca", "subj-sg"]
    found = _queries.state_rows(engine, ids)
    with engine.connect() as connection:
        versions = _queries.versions(connection, ids)
        objections = _queries.objections(connection, ids, in_force_only=True)
        restrictions = _queries.restrictions(connection, ids, in_force_only=True)
        consents = _queries.consents_in_force(connection, ids)
    for subject_id in ids:
        rows = found[subject_id]
        assert rows.version == versions.get(subject_id, 0)
        assert sorted(rows.objections) == sorted(
            o.purpose for o in objections if o.subject_id == subject_id
        )
        assert sorted(rows.restrictions) == sorted(
            r.allows for r in restrictions if r.subject_id == subject_id
        )
        assert sorted(rows.consents, key=str) == sorted(
            ((c.purpose, c.recipient) for c in consents if c.subject_id == subject_id), key=str
        )
    assert found["subj-de"].consents == []
    assert found["subj-de"].objections == ["improve_service"]
