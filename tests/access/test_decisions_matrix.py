"""Every role × purpose × category × region of the default policy, against the rules restated.

``_expected`` below restates the access rules from the issue in plain loops over
the policy model, without the compiled tables, and every decision of the engine
must agree with it on ``allowed`` and on the transfer mechanism. Staff are
placed at every (legal entity, working region) pair, so the matrix covers the
same entity, other entities with a valid mechanism and other entities with
none; decisions are taken on two dates, the second after the UK adequacy
decision and every processor contract have lapsed.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest

from servinfo.access.decisions import Actor, CompiledPolicy, SubjectState, compile_policy, decide
from servinfo.policy import Policy, load_policy
from servinfo.policy.model import Ground

LOADED = dt.date(2026, 6, 1)
#: After eu_adequacy_uk (2031-12-27) and every processor contract have expired.
LAPSED = dt.date(2032, 1, 15)
DATES = (LOADED, LAPSED)
STAFF = ("employee", "contractor", "agent")
KINDS = (*STAFF, "processor", "service", "subject", "authorized_agent")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(today=LOADED)


_COMPILED: dict[tuple[str, dt.date], CompiledPolicy] = {}


def _compiled(policy: Policy, today: dt.date) -> CompiledPolicy:
    """Compiling takes a fraction of a second: once per policy version and date is enough."""
    key = (policy.version, today)
    if key not in _COMPILED:
        _COMPILED[key] = compile_policy(policy, today)
    return _COMPILED[key]


# -- the rules, restated -------------------------------------------------------------


def _first_valid(
    policy: Policy, today: dt.date, source: str, destination: str, certified: bool
) -> tuple[bool, str | None]:
    for mechanism_id in policy.transfers[source].get(destination, []):
        mechanism = policy.mechanisms[mechanism_id]
        expired = mechanism.expires is not None and mechanism.expires < today
        if not expired and (mechanism.type != "dpf" or certified):
            return True, mechanism_id
    return False, None


def _towards(
    policy: Policy, today: dt.date, source: str, country: str, certified: bool
) -> tuple[bool, str | None]:
    try:
        destination = policy.transfer_destination(source, country.split("-")[0])
    except KeyError:
        return False, None
    if destination is None:
        return True, None
    return _first_valid(policy, today, source, destination, certified)


def _transfer(policy: Policy, today: dt.date, actor: Actor, region: str) -> tuple[bool, str | None]:
    if actor.kind in STAFF:
        if actor.entity not in policy.legal_entities or actor.region not in policy.regions:
            return False, None
        if policy.regions[region].entity == actor.entity:
            return True, None
        entity = policy.legal_entities[actor.entity]
        if actor.region == region:
            return _towards(policy, today, region, entity.country, entity.dpf_certified)
        return _first_valid(policy, today, region, actor.region, entity.dpf_certified)
    if actor.kind == "processor":
        processor = policy.processors[actor.entity or ""]
        return _towards(policy, today, region, processor.country, processor.dpf_certified)
    return True, None


def _expected(
    policy: Policy,
    today: dt.date,
    actor: Actor,
    purpose: str,
    category: str,
    region: str,
    state: SubjectState,
) -> tuple[bool, str | None]:
    wanted = policy.purposes[purpose]
    role = policy.roles.get(actor.role)
    allowed = not actor.revoked and category in wanted.categories
    allowed = allowed and role is not None
    if role is not None:
        allowed = allowed and actor.kind in role.principal_kinds
        allowed = allowed and purpose in role.purposes
        allowed = allowed and category in role.categories and region in role.regions
    if actor.kind == "processor":
        processor = policy.processors[actor.entity or ""]
        contract = processor.contract
        allowed = allowed and contract.signed <= today <= contract.expires
        allowed = allowed and purpose in processor.purposes
        allowed = allowed and category in processor.categories and region in processor.regions
    crossing, mechanism = _transfer(policy, today, actor, region)
    allowed = allowed and crossing
    own = actor.kind in ("subject", "authorized_agent") and actor.binding == state.subject_id
    if actor.kind in ("subject", "authorized_agent"):
        allowed = allowed and own
    if actor.role == "rights":
        allowed = allowed and state.open_verified_request
    if not own:
        lineage = {purpose} if wanted.parent is None else {purpose, wanted.parent}
        if wanted.objectable and lineage & state.objections:
            allowed = False
        if state.restricted and purpose not in state.restriction_allows:
            allowed = False
        if wanted.grounds[state.regime].basis == "consent" and purpose not in state.consents:
            allowed = False
    return allowed, mechanism if allowed else None


# -- the actors ----------------------------------------------------------------------


def _actors(policy: Policy, role_id: str, subject_id: str) -> Iterator[Actor]:
    role = policy.roles[role_id]
    kinds = [*role.principal_kinds, next(k for k in KINDS if k not in role.principal_kinds)]
    for kind in kinds:
        name = f"{role_id}-{kind}"
        if kind in STAFF:
            for entity, region in itertools.product(policy.legal_entities, policy.regions):
                yield Actor(
                    principal_id=f"{name}-{entity}-{region}",
                    kind=kind,
                    role=role_id,
                    entity=entity,
                    region=region,
                )
        elif kind == "processor":
            for processor in policy.processors:
                yield Actor(principal_id=processor, kind=kind, role=role_id, entity=processor)
        elif kind in ("subject", "authorized_agent"):
            yield Actor(principal_id=name, kind=kind, role=role_id, binding=subject_id)
            yield Actor(principal_id=f"{name}-other", kind=kind, role=role_id, binding="other")
        else:
            yield Actor(principal_id=name, kind=kind, role=role_id, binding=name)


def _check_all(
    policy: Policy, role_id: str, states: list[SubjectState], dates: tuple[dt.date, ...]
) -> int:
    checked = 0
    for today in dates:
        compiled = _compiled(policy, today)
        for state in states:
            for actor in _actors(policy, role_id, state.subject_id):
                for purpose, category, region in itertools.product(
                    policy.purposes, policy.categories, policy.regions
                ):
                    decision = decide(compiled, actor, purpose, category, region, state)
                    want = _expected(policy, today, actor, purpose, category, region, state)
                    got = (decision.allowed, decision.mechanism)
                    assert got == want, (actor, purpose, category, region, state, decision.texts)
                    checked += 1
    return checked


ROLES = list(load_policy(today=LOADED).roles)


@pytest.mark.parametrize("role_id", ROLES)
def test_every_placement_and_date_matches_the_rules(policy: Policy, role_id: str) -> None:
    states = [
        SubjectState.unrestricted("s-gdpr", "gdpr"),
        SubjectState(subject_id="s-req", regime="ccpa", open_verified_request=True),
    ]
    assert _check_all(policy, role_id, states, DATES) > 0


STATES = [
    SubjectState(subject_id="s-obj-parent", regime="gdpr", objections=frozenset({"provide"})),
    SubjectState(
        subject_id="s-obj-sub", regime="uk_gdpr", objections=frozenset({"provide.credit_check"})
    ),
    SubjectState(
        subject_id="s-obj-many",
        regime="fadp",
        objections=frozenset({"improve_use", "improve_service", "legal"}),
    ),
    SubjectState(
        subject_id="s-restricted",
        regime="gdpr",
        restricted=True,
        restriction_allows=frozenset({"legal"}),
        open_verified_request=True,
    ),
    SubjectState(subject_id="s-restricted-all", regime="pdpa", restricted=True),
]


@pytest.mark.parametrize("role_id", ROLES)
def test_subject_states_match_the_rules(policy: Policy, role_id: str) -> None:
    assert _check_all(policy, role_id, STATES, (LOADED,)) > 0


def _with_consent_ground(policy: Policy, purpose_id: str, regime: str) -> Policy:
    purpose = policy.purposes[purpose_id]
    grounds = {**purpose.grounds, regime: Ground(basis="consent", detail="Consent.")}
    purposes = {**policy.purposes, purpose_id: purpose.model_copy(update={"grounds": grounds})}
    return policy.model_copy(update={"purposes": purposes})


@pytest.mark.parametrize("role_id", ["product_analyst", "sre", "support_engineer"])
def test_consent_given_and_withdrawn_match_the_rules(policy: Policy, role_id: str) -> None:
    consenting = _with_consent_ground(policy, "improve_use", "gdpr")
    states = [
        SubjectState(subject_id="s-given", regime="gdpr", consents=frozenset({"improve_use"})),
        SubjectState(subject_id="s-withdrawn", regime="gdpr", version=2),
        SubjectState(subject_id="s-other-regime", regime="uk_gdpr"),
    ]
    assert _check_all(consenting, role_id, states, (LOADED,)) > 0


# -- named cases, so that a regression reads as a sentence ---------------------------

ANALYST = Actor(
    principal_id="pa", kind="employee", role="product_analyst", entity="ims_eu", region="eu"
)
BILLING = Actor(
    principal_id="bo", kind="employee", role="billing_ops", entity="ims_eu", region="eu"
)


def test_objection_to_a_parent_blocks_its_objectable_sub_purpose(policy: Policy) -> None:
    compiled = _compiled(policy, LOADED)
    state = SubjectState(subject_id="s", regime="gdpr", objections=frozenset({"provide"}))
    check = decide(compiled, BILLING, "provide.credit_check", "payments", "eu", state)
    provide = decide(compiled, BILLING, "provide", "payments", "eu", state)
    assert not check.allowed
    assert "the subject objected to 'provide', which covers 'provide.credit_check'" in check.texts
    assert provide.allowed
    assert "objection to 'provide' has no effect: 'provide' is not objectable" in provide.texts


def test_consent_withdrawn_denies(policy: Policy) -> None:
    compiled = _compiled(_with_consent_ground(policy, "improve_use", "gdpr"), LOADED)
    given = SubjectState(subject_id="s", regime="gdpr", consents=frozenset({"improve_use"}))
    withdrawn = SubjectState(subject_id="s", regime="gdpr", version=1)
    assert decide(compiled, ANALYST, "improve_use", "telemetry", "eu", given).allowed
    denied = decide(compiled, ANALYST, "improve_use", "telemetry", "eu", withdrawn)
    assert [r.text for r in denied.failures] == [
        "'improve_use' rests on consent under gdpr, and none is given"
    ]


def test_rights_without_request_and_revoked_principals_are_denied(policy: Policy) -> None:
    compiled = _compiled(policy, LOADED)
    rights = Actor(principal_id="r", kind="service", role="rights", binding="rights")
    revoked = Actor(principal_id="pa", kind="employee", role="product_analyst", revoked=True)
    state = SubjectState.unrestricted("s", "gdpr")
    assert not decide(compiled, rights, "legal", "account", "us", state).allowed
    denied = decide(compiled, revoked, "improve_use", "telemetry", "eu", state)
    assert denied.failures[0].text == "principal revoked"


def test_a_processor_past_its_contract_is_denied(policy: Policy) -> None:
    sahaya = Actor(principal_id="p", kind="processor", role="processor", entity="sahaya_support")
    state = SubjectState.unrestricted("s", "ccpa")
    before = decide(
        compile_policy(policy, dt.date(2029, 2, 28)), sahaya, "provide", "account", "us", state
    )
    after = decide(
        compile_policy(policy, dt.date(2029, 3, 1)), sahaya, "provide", "account", "us", state
    )
    assert (before.allowed, before.mechanism) == (True, "not_restricted")
    assert not after.allowed
    assert [r.text for r in after.failures] == [
        "contract DPA-2026-007 of 'sahaya_support' expired on 2029-02-28"
    ]


def test_dpf_needs_a_certified_importer(policy: Policy) -> None:
    compiled = _compiled(policy, LOADED)
    state = SubjectState.unrestricted("s", "gdpr")
    certified = Actor(principal_id="u", kind="employee", role="sre", entity="ims_us", region="us")
    uncertified = Actor(principal_id="g", kind="employee", role="sre", entity="ims_sg", region="us")
    assert decide(compiled, certified, "provide", "telemetry", "eu", state).mechanism == "eu_dpf"
    assert decide(compiled, uncertified, "provide", "telemetry", "eu", state).mechanism == "eu_scc"
