"""Access decisions on a small policy, against a table of expectations written by hand.

Every row was worked out by reading ``fixtures/small_policy.yaml``, not by
running the compiler: this module deliberately does not import
``servinfo.access.compile``. Each row names the expected outcome, the transfer
mechanism and one reason that must appear, worded as people will read it.

"now" is 2026-03-01: everything in the fixture is in force. "later" is
2027-03-01: the adequacy decision north → south has expired and the contract
of processor ``legacy`` has ended.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from servinfo.access.decisions import Actor, Decision, SubjectState, compile_policy, decide
from servinfo.policy import Policy, UnknownPolicyElement, load_policy

FIXTURE = Path(__file__).parent / "fixtures" / "small_policy.yaml"
NOW = dt.date(2026, 3, 1)
LATER = dt.date(2027, 3, 1)


def _staff(
    name: str, role: str, entity: str, region: str, kind: str = "employee", revoked: bool = False
) -> Actor:
    return Actor(
        principal_id=name, kind=kind, role=role, region=region, entity=entity, revoked=revoked
    )


def _processor(processor: str) -> Actor:
    return Actor(principal_id=processor, kind="processor", role="processor", entity=processor)


def _service(name: str, role: str) -> Actor:
    return Actor(principal_id=name, kind="service", role=role, binding=name)


SUPPORT_NORTH = _staff("sup-n", "support", "north_co", "north")
SUPPORT_SOUTH = _staff("sup-s", "support", "south_co", "south")
#: A North Co employee working from the south region.
SUPPORT_NORTH_ABROAD = _staff("sup-n-abroad", "support", "north_co", "south")
#: A South Co employee working from the north region: the importer is still South Co.
SUPPORT_SOUTH_VISITING = _staff("sup-s-visiting", "support", "south_co", "north")
SUPPORT_CONTRACTOR = _staff("sup-c", "support", "south_co", "south", kind="contractor")
SUPPORT_REVOKED = _staff("sup-x", "support", "north_co", "north", revoked=True)
SUPPORT_GHOST_ENTITY = _staff("sup-g", "support", "ghost_co", "north")
SUPPORT_AS_SERVICE = _staff("sup-svc", "support", "north_co", "north", kind="service")
AUDITOR = _staff("aud", "auditor", "north_co", "north")
ANALYST = _staff("ana", "analyst", "north_co", "north")
ADMIN = _staff("adm", "admin", "north_co", "north")
RELAY = _processor("relay")
LEGACY = _processor("legacy")
GHOST_PROCESSOR = _processor("ghost")
RIGHTS = _service("rights-svc", "rights")
INGEST = _service("portal", "ingest")
HOLDER = Actor(principal_id="holder", kind="subject", role="account_holder", binding="s-1")

PLAIN = SubjectState.unrestricted("s-1", "north_law")
PLAIN_SOUTH = SubjectState.unrestricted("s-2", "south_law")
CONSENTED = SubjectState(subject_id="s-3", regime="north_law", consents=frozenset({"recommend"}))
OBJECTED = SubjectState(
    subject_id="s-4",
    regime="north_law",
    objections=frozenset({"recommend"}),
    consents=frozenset({"recommend"}),
)
OBJECTED_TO_SERVE = SubjectState(
    subject_id="s-5", regime="north_law", objections=frozenset({"serve"})
)
RESTRICTED = SubjectState(
    subject_id="s-1", regime="north_law", restricted=True, restriction_allows=frozenset({"legal"})
)
REQUESTED = SubjectState(subject_id="s-6", regime="south_law", open_verified_request=True)


@dataclass(frozen=True)
class Row:
    actor: Actor
    purpose: str
    category: str
    region: str
    state: SubjectState
    when: dt.date
    allowed: bool
    mechanism: str | None
    reason: str


TABLE = [
    # need to know, same entity, transfers of staff
    Row(SUPPORT_NORTH, "serve", "account", "north", PLAIN, NOW, True, None,
        "no transfer: 'north_co' operates region 'north'"),
    Row(SUPPORT_NORTH, "serve", "telemetry", "north", PLAIN, NOW, True, None,
        "role 'support' sees category 'telemetry'"),
    Row(SUPPORT_NORTH, "serve", "account", "south", PLAIN, NOW, True, "not_restricted",
        "transfer south→north under not_restricted (No restriction)"),
    Row(SUPPORT_SOUTH, "serve", "account", "north", PLAIN, NOW, True, "north_adequacy",
        "transfer north→south under north_adequacy (North adequacy for South)"),
    Row(SUPPORT_SOUTH, "serve", "account", "north", PLAIN, LATER, False, None,
        "no valid transfer mechanism north→south for importer 'south_co': "
        "north_adequacy expired on 2026-12-31"),
    Row(SUPPORT_SOUTH_VISITING, "serve", "account", "north", PLAIN, NOW, True, "north_adequacy",
        "transfer north→south under north_adequacy"),
    Row(SUPPORT_NORTH_ABROAD, "serve", "account", "north", PLAIN, NOW, True, None,
        "no transfer: 'north_co' operates region 'north'"),
    Row(SUPPORT_NORTH_ABROAD, "serve", "telemetry", "south", PLAIN, LATER, True, "not_restricted",
        "transfer south→north under not_restricted"),
    Row(SUPPORT_CONTRACTOR, "serve", "telemetry", "south", PLAIN, NOW, True, None,
        "kind 'contractor' may hold role 'support'"),
    Row(SUPPORT_NORTH, "recommend", "telemetry", "north", CONSENTED, NOW, False, None,
        "role 'support' does not serve 'recommend'"),
    Row(ANALYST, "recommend", "account", "north", CONSENTED, NOW, False, None,
        "purpose 'recommend' may not use category 'account'"),
    Row(ANALYST, "recommend", "account", "north", CONSENTED, NOW, False, None,
        "role 'analyst' may not see category 'account'"),
    Row(ANALYST, "recommend", "telemetry", "south", CONSENTED, NOW, False, None,
        "role 'analyst' may not reach region 'south'"),
    # the principal itself
    Row(SUPPORT_REVOKED, "serve", "account", "north", PLAIN, NOW, False, None,
        "principal revoked"),
    Row(SUPPORT_GHOST_ENTITY, "serve", "account", "north", PLAIN, NOW, False, None,
        "legal entity 'ghost_co' is not declared in the policy"),
    Row(SUPPORT_AS_SERVICE, "serve", "account", "north", PLAIN, NOW, False, None,
        "kind 'service' may not hold role 'support'"),
    Row(AUDITOR, "legal", "account", "north", PLAIN, NOW, False, None,
        "role 'auditor' is not declared in the policy"),
    Row(INGEST, "serve", "account", "north", PLAIN, NOW, False, None,
        "role 'ingest' does not serve 'serve'"),
    # consent, objection, restriction
    Row(ANALYST, "recommend", "telemetry", "north", PLAIN, NOW, False, None,
        "'recommend' rests on consent under north_law, and none is given"),
    Row(ANALYST, "recommend", "telemetry", "north", CONSENTED, NOW, True, None,
        "consent given for 'recommend' (north_law)"),
    Row(ANALYST, "recommend", "telemetry", "north", PLAIN_SOUTH, NOW, True, None,
        "role 'analyst' serves 'recommend'"),
    Row(ANALYST, "recommend", "telemetry", "north", OBJECTED, NOW, False, None,
        "the subject objected to 'recommend'"),
    Row(SUPPORT_NORTH, "serve", "account", "north", OBJECTED_TO_SERVE, NOW, True, None,
        "objection to 'serve' has no effect: 'serve' is not objectable"),
    Row(SUPPORT_NORTH, "serve", "account", "north", RESTRICTED, NOW, False, None,
        "processing restricted: 'serve' is not allowed"),
    Row(ADMIN, "legal", "account", "north", RESTRICTED, NOW, True, None,
        "processing restricted, but 'legal' is still allowed"),
    # the request machinery and the subjects themselves
    Row(RIGHTS, "legal", "account", "north", PLAIN, NOW, False, None,
        "the subject has no open, verified request"),
    Row(RIGHTS, "legal", "telemetry", "south", REQUESTED, NOW, True, None,
        "the subject has an open, verified request"),
    Row(HOLDER, "serve", "account", "north", PLAIN, NOW, True, None,
        "the subject reads their own data"),
    Row(HOLDER, "serve", "account", "south", RESTRICTED, NOW, True, None,
        "the subject reads their own data"),
    Row(HOLDER, "serve", "account", "north", PLAIN_SOUTH, NOW, False, None,
        "a subject may read only their own data"),
    Row(HOLDER, "legal", "account", "north", PLAIN, NOW, False, None,
        "role 'account_holder' does not serve 'legal'"),
    # processors: contract, scope, transfer to their country
    Row(RELAY, "serve", "account", "north", PLAIN, NOW, True, "north_dpf",
        "transfer north→IN under north_dpf (North-South Data Privacy Framework)"),
    Row(RELAY, "serve", "account", "north", PLAIN, LATER, True, "north_dpf",
        "contract DPA-1 of 'relay' runs until 2028-12-31"),
    Row(RELAY, "serve", "account", "south", PLAIN, NOW, True, "not_restricted",
        "transfer south→IN under not_restricted"),
    Row(RELAY, "serve", "telemetry", "north", PLAIN, NOW, False, None,
        "processor 'relay' is not engaged for category 'telemetry'"),
    Row(LEGACY, "serve", "account", "north", PLAIN, NOW, False, None,
        "no valid transfer mechanism north→IN for importer 'legacy': "
        "north_dpf covers only DPF-certified importers"),
    Row(LEGACY, "serve", "account", "south", PLAIN, NOW, True, "not_restricted",
        "contract DPA-2 of 'legacy' runs until 2026-06-30"),
    Row(LEGACY, "serve", "account", "south", PLAIN, LATER, False, None,
        "contract DPA-2 of 'legacy' expired on 2026-06-30"),
    Row(GHOST_PROCESSOR, "serve", "account", "north", PLAIN, NOW, False, None,
        "processor 'ghost' is not declared in the policy"),
]  # fmt: skip


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(FIXTURE, today=NOW)


def _decide(policy: Policy, row: Row) -> Decision:
    compiled = compile_policy(policy, row.when)
    return decide(compiled, row.actor, row.purpose, row.category, row.region, row.state)


@pytest.mark.parametrize(
    "row",
    TABLE,
    ids=[
        f"{r.actor.principal_id}-{r.purpose}-{r.category}-{r.region}-{r.state.subject_id}-{r.when}"
        for r in TABLE
    ],
)
def test_decision_matches_the_table(policy: Policy, row: Row) -> None:
    decision = _decide(policy, row)
    assert (decision.allowed, decision.mechanism) == (row.allowed, row.mechanism), decision.texts
    assert any(row.reason in text for text in decision.texts), decision.texts
    assert decision.allowed == (not decision.failures)
    assert decision.policy_version == policy.version


def test_an_allowance_lists_every_ground(policy: Policy) -> None:
    decision = decide(
        compile_policy(policy, NOW), SUPPORT_SOUTH, "serve", "account", "north", PLAIN
    )
    assert decision.texts == (
        "kind 'employee' may hold role 'support'",
        "purpose 'serve' may use category 'account'",
        "role 'support' serves 'serve'",
        "role 'support' sees category 'account'",
        "role 'support' reaches region 'north'",
        "transfer north→south under north_adequacy (North adequacy for South)",
    )
    assert [reason.code for reason in decision.reasons] == [
        "role_kind",
        "purpose_category",
        "role_purpose",
        "role_category",
        "role_region",
        "transfer",
    ]


def test_a_denial_lists_every_failed_check(policy: Policy) -> None:
    actor = _staff("sup-x2", "analyst", "south_co", "south", revoked=True)
    decision = decide(compile_policy(policy, LATER), actor, "serve", "account", "north", RESTRICTED)
    assert [(r.code, r.text) for r in decision.failures] == [
        ("revoked", "principal revoked"),
        ("role_purpose", "role 'analyst' does not serve 'serve'"),
        ("role_category", "role 'analyst' may not see category 'account'"),
        (
            "transfer",
            "no valid transfer mechanism north→south for importer 'south_co': "
            "north_adequacy expired on 2026-12-31",
        ),
        ("restriction", "processing restricted: 'serve' is not allowed"),
    ]


@pytest.mark.parametrize(
    ("purpose", "category", "region", "regime", "message"),
    [
        ("market", "account", "north", "north_law", "unknown purpose 'market' (declared: legal, "),
        ("serve", "payments", "north", "north_law", "unknown category 'payments' (declared: "),
        ("serve", "account", "east", "north_law", "unknown region 'east' (declared: north, south)"),
        ("serve", "account", "north", "east_law", "unknown regime 'east_law' (declared: "),
    ],
)
def test_undeclared_request_elements_raise(
    policy: Policy, purpose: str, category: str, region: str, regime: str, message: str
) -> None:
    state = SubjectState.unrestricted("s-1", regime)
    with pytest.raises(UnknownPolicyElement) as caught:
        decide(compile_policy(policy, NOW), SUPPORT_NORTH, purpose, category, region, state)
    assert caught.value.message.startswith(message)
