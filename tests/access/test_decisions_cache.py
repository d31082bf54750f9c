"""The decision cache, and adapting stored principals to actors.

The cache may only ever answer for exactly the inputs that produced an entry:
a subject whose ledger changed, a new policy, or a new day (when mechanisms and
contracts can lapse) must get a fresh decision.
"""

from __future__ import annotations

import datetime as dt

import pytest

from servinfo.access.decisions import (
    Actor,
    CompiledPolicy,
    Decider,
    DecisionCache,
    SubjectState,
    compile_policy,
    decide,
)
from servinfo.policy import Policy, UnknownPolicyElement, load_policy
from servinfo.store.principals import Principal

TODAY = dt.date(2026, 6, 1)
SRE_US = Actor(principal_id="sre-1", kind="employee", role="sre", entity="ims_us", region="us")
PLAIN = SubjectState.unrestricted("s-1", "gdpr")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(today=TODAY)


@pytest.fixture(scope="module")
def compiled(policy: Policy) -> CompiledPolicy:
    return compile_policy(policy, TODAY)


def test_a_repeated_decision_comes_from_the_cache(compiled: CompiledPolicy) -> None:
    decider = Decider(compiled)
    first = decider.decide(SRE_US, "provide", "telemetry", "eu", PLAIN)
    again = decider.decide(SRE_US, "provide", "telemetry", "eu", PLAIN)
    assert again is first
    assert len(decider.cache) == 1
    assert first == decide(decider.compiled, SRE_US, "provide", "telemetry", "eu", PLAIN)


def test_a_new_ledger_version_gives_a_fresh_decision(compiled: CompiledPolicy) -> None:
    decider = Decider(compiled)
    assert decider.decide(SRE_US, "improve_service", "telemetry", "eu", PLAIN).allowed
    objected = SubjectState(
        subject_id="s-1", regime="gdpr", objections=frozenset({"improve_service"}), version=1
    )
    denied = decider.decide(SRE_US, "improve_service", "telemetry", "eu", objected)
    assert not denied.allowed
    assert "the subject objected to 'improve_service'" in denied.texts


def test_a_changed_state_is_never_served_stale_even_without_a_new_version(
    compiled: CompiledPolicy,
) -> None:
    decider = Decider(compiled)
    assert decider.decide(SRE_US, "provide", "telemetry", "eu", PLAIN).allowed
    careless = SubjectState(subject_id="s-1", regime="gdpr", restricted=True)  # version still 0
    assert not decider.decide(SRE_US, "provide", "telemetry", "eu", careless).allowed


def test_a_changed_actor_is_never_served_stale(compiled: CompiledPolicy) -> None:
    decider = Decider(compiled)
    assert decider.decide(SRE_US, "provide", "telemetry", "eu", PLAIN).allowed
    revoked = Actor(
        principal_id="sre-1",
        kind="employee",
        role="sre",
        entity="ims_us",
        region="us",
        revoked=True,
    )
    assert not decider.decide(revoked, "provide", "telemetry", "eu", PLAIN).allowed


def test_a_new_policy_gives_a_fresh_decision(policy: Policy, compiled: CompiledPolicy) -> None:
    decider = Decider(compiled)
    assert decider.decide(SRE_US, "provide", "telemetry", "eu", PLAIN).allowed
    sre = policy.roles["sre"].model_copy(update={"regions": ["us"]})
    narrowed = policy.model_copy(update={"roles": {**policy.roles, "sre": sre}})
    decider.use(compile_policy(narrowed, TODAY))
    denied = decider.decide(SRE_US, "provide", "telemetry", "eu", PLAIN)
    assert not denied.allowed
    assert denied.policy_version == narrowed.version != policy.version
    assert "role 'sre' may not reach region 'eu'" in denied.texts


def test_a_new_day_gives_a_fresh_decision(policy: Policy) -> None:
    """eu_adequacy_uk expires on 2031-12-27: the cache must not outlive it."""
    uk_reader = Actor(principal_id="u", kind="employee", role="sre", entity="ims_uk", region="uk")
    shared = DecisionCache()
    before = Decider(compile_policy(policy, dt.date(2031, 12, 27)), shared)
    after = Decider(compile_policy(policy, dt.date(2031, 12, 28)), shared)
    assert before.decide(uk_reader, "provide", "telemetry", "eu", PLAIN).mechanism == (
        "eu_adequacy_uk"
    )
    lapsed = after.decide(uk_reader, "provide", "telemetry", "eu", PLAIN)
    assert not lapsed.allowed
    assert len(shared) == 2


def test_the_cache_is_bounded(compiled: CompiledPolicy) -> None:
    decider = Decider(compiled, DecisionCache(maxsize=2))
    for category in ("settings", "telemetry", "account"):
        decider.decide(SRE_US, "provide", category, "eu", PLAIN)
    assert len(decider.cache) == 2
    with pytest.raises(ValueError, match="got maxsize 1, expected at least 2"):
        DecisionCache(maxsize=1)


def test_decisions_asked_for_again_stay_in_the_cache(compiled: CompiledPolicy) -> None:
    decider = Decider(compiled, DecisionCache(maxsize=4))
    hot = decider.decide(SRE_US, "provide", "telemetry", "eu", PLAIN)
    for region in ("uk", "ch", "us", "apac"):
        decider.decide(SRE_US, "provide", "settings", region, PLAIN)
        assert decider.decide(SRE_US, "provide", "telemetry", "eu", PLAIN) is hot
        assert len(decider.cache) <= 4


def test_undeclared_ids_raise_every_time_and_are_not_cached(compiled: CompiledPolicy) -> None:
    decider = Decider(compiled)
    for _ in range(2):
        with pytest.raises(UnknownPolicyElement, match="unknown purpose 'marketing'"):
            decider.decide(SRE_US, "marketing", "telemetry", "eu", PLAIN)
    assert len(decider.cache) == 0


def _principal(kind: str, role: str, entity: str | None, revoked: bool) -> Principal:
    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return Principal(
        principal_id="01J0000000000000000000000",
        name=f"{role}-1",
        kind=kind,
        role=role,
        region="eu",
        entity=entity,
        token_hash="0" * 64,
        created_at=created,
        revoked_at=created if revoked else None,
    )


def test_actor_from_principal() -> None:
    staff = Actor.from_principal(_principal("employee", "sre", "ims_eu", revoked=False))
    assert (staff.kind, staff.role, staff.region, staff.entity) == (
        "employee",
        "sre",
        "eu",
        "ims_eu",
    )
    assert (staff.binding, staff.revoked) == (None, False)
    processor = Actor.from_principal(_principal("processor", "processor", "crediva", revoked=True))
    assert (processor.binding, processor.revoked) == ("crediva", True)
    holder = Actor.from_principal(_principal("subject", "account_holder", None, False), "s-9")
    assert holder.binding == "s-9"
