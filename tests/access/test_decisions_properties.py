"""Properties of decisions over random requests against the default policy.

For any principal (declared or stale attributes) and any subject state, a
request that names declared ids is decided without raising; it is allowed
exactly when no reason failed; only an allowed read names a mechanism, and
then one the policy declares and a reason names; the cache never changes the
answer.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from servinfo.access.decisions import Actor, Decider, SubjectState, compile_policy, decide
from servinfo.policy import load_policy

TODAY = dt.date(2026, 6, 1)
POLICY = load_policy(today=TODAY)
COMPILED = compile_policy(POLICY, TODAY)
DECIDER = Decider(COMPILED)
KINDS = ["employee", "contractor", "agent", "processor", "service", "subject", "authorized_agent"]
PURPOSES = sorted(POLICY.purposes)


def _some(ids: list[str]) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(ids), max_size=3)


actors = st.builds(
    Actor,
    principal_id=st.sampled_from(["p-1", "p-2"]),
    kind=st.sampled_from(KINDS),
    role=st.sampled_from([*POLICY.roles, "retired_role"]),
    region=st.sampled_from([*POLICY.regions, None, "mars"]),
    entity=st.sampled_from([*POLICY.legal_entities, *POLICY.processors, None, "ghost"]),
    binding=st.sampled_from(["s-1", "s-2", None]),
    revoked=st.booleans(),
)
states = st.builds(
    SubjectState,
    subject_id=st.sampled_from(["s-1", "s-2"]),
    regime=st.sampled_from(sorted(POLICY.regimes)),
    objections=_some(PURPOSES),
    restricted=st.booleans(),
    restriction_allows=_some(PURPOSES),
    consents=_some(PURPOSES),
    open_verified_request=st.booleans(),
    version=st.integers(min_value=0, max_value=3),
)


@settings(max_examples=400, deadline=None)
@given(
    actor=actors,
    purpose=st.sampled_from(PURPOSES),
    category=st.sampled_from(sorted(POLICY.categories)),
    region=st.sampled_from(sorted(POLICY.regions)),
    state=states,
)
def test_declared_requests_are_decided_consistently(
    actor: Actor, purpose: str, category: str, region: str, state: SubjectState
) -> None:
    decision = decide(COMPILED, actor, purpose, category, region, state)
    assert decision.reasons
    assert decision.allowed == all(reason.passed for reason in decision.reasons)
    assert decision.allowed == (not decision.failures)
    if decision.mechanism is not None:
        assert decision.allowed
        assert decision.mechanism in POLICY.mechanisms
        assert any(f"under {decision.mechanism} (" in text for text in decision.texts)
    if actor.revoked:
        assert not decision.allowed
        assert decision.reasons[0].text == "principal revoked"
    assert DECIDER.decide(actor, purpose, category, region, state) == decision
