"""Access decisions: may this principal read this category, for this purpose, here?

:func:`decide` answers allow or deny with *every* reason (the failed checks of
a denial, the grounds of an allowance) and, when the read crosses a border, the
transfer mechanism that carries it. It is pure: the policy arrives compiled
(:func:`compile_policy`), the principal as an :class:`Actor`, the subject's
ledger state as a :class:`SubjectState`; nothing is read from a database.

The checks, in the order their reasons are listed:

1. the principal is not revoked;
2. its kind may hold its role; the purpose may use the category; the role
   serves the purpose, sees the category and reaches the data's region;
3. by kind: staff need a transfer mechanism when their legal entity does not
   operate the data's region; processors need a contract in force that covers
   the purpose, category and region, and a mechanism towards their country;
   subjects (and authorized agents) read only the subject they are bound to;
   services run inside the region (no transfer);
4. the ``rights`` role needs an open, verified request from the subject;
5. unless subjects read their own data (their request is their consent,
   GDPR Art. 18(2)): an objection blocks an objectable purpose or its
   objectable sub-purposes; a restriction blocks every purpose it does not
   still allow; a purpose grounded on consent under the subject's regime needs
   that consent, given and not withdrawn.

Undeclared purposes, categories, regions or regimes in a request are the
caller's mistake, not a denial: they raise
:class:`~servinfo.policy.errors.UnknownPolicyElement` listing what is declared.
Undeclared values on the principal (its role, entity, region, processor) are a
stale principal and fail closed with a reason.

:class:`Decider` adds a bounded cache for repeated decisions; its key holds every
field of the actor and the subject state, so a changed ledger (new version) or a
new policy (or a new day) can never be answered from the cache.

:func:`has_standing` says whether a principal may read a subject *for some
purpose*: only then may it learn anything about that subject (that it exists,
what it objected to, that it restricted processing). Everyone else is answered
as if the subject did not exist (:mod:`servinfo.access.reads`, docs/access.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from servinfo.access import _reasons as R
from servinfo.access._reasons import Reason
from servinfo.access.compile import RIGHTS_ROLE, SELF_KINDS, STAFF_KINDS, CompiledPolicy
from servinfo.policy.errors import UnknownPolicyElement
from servinfo.policy.model import Policy

if TYPE_CHECKING:
    from servinfo.store.principals import Principal

__all__ = [
    "Actor",
    "CompiledPolicy",
    "Decider",
    "Decision",
    "DecisionCache",
    "Reason",
    "SubjectState",
    "compile_policy",
    "decide",
    "has_standing",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """What a decision needs of a principal.

    ``region`` is where the principal works (the transfer destination for staff);
    ``entity`` its legal entity, or for a processor its id in ``policy.processors``;
    ``binding`` a subject principal's own subject id, a service's id, or a
    processor's id.
    """

    principal_id: str
    kind: str
    role: str
    region: str | None = None
    entity: str | None = None
    binding: str | None = None
    revoked: bool = False
    #: Every field, as one string: strings keep their hash, which makes cache lookups cheap.
    cache_key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = (
            self.principal_id,
            self.kind,
            self.role,
            self.region,
            self.entity,
            self.binding,
            self.revoked,
        )
        object.__setattr__(self, "cache_key", repr(fields))

    @classmethod
    def from_principal(cls, principal: Principal, binding: str | None = None) -> Actor:
        """The actor for a stored principal, bound to what the principal is bound to.

        A processor without a recorded binding is bound to its entity (its processor id).
        """
        if binding is None:
            binding = principal.binding
        if binding is None and principal.kind == "processor":
            binding = principal.entity
        return cls(
            principal_id=principal.principal_id,
            kind=principal.kind,
            role=principal.role,
            region=principal.region,
            entity=principal.entity,
            binding=binding,
            revoked=not principal.active,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class SubjectState:
    """A subject's ledger state as it bears on reads of their data.

    ``regime`` is the regime their jurisdiction selects (``policy.regime_for``);
    ``restriction_allows`` the purposes a restriction still allows for them
    (GDPR Art. 18(2): e.g. ``legal``, or those they consented to); ``consents``
    the purpose (or recipient) ids with consent given and not withdrawn;
    ``version`` the ledger version, which the caller bumps on every change.
    """

    subject_id: str
    regime: str
    objections: frozenset[str] = frozenset()
    restricted: bool = False
    restriction_allows: frozenset[str] = frozenset()
    consents: frozenset[str] = frozenset()
    open_verified_request: bool = False
    version: int = 0
    #: Every field, as one string (see :attr:`Actor.cache_key`): a state that changed
    #: without a new ``version`` still never matches a cached decision.
    cache_key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Callers may pass sets; frozen sets keep the state hashable and immutable.
        for name in ("objections", "restriction_allows", "consents"):
            object.__setattr__(self, name, frozenset(getattr(self, name)))
        fields = (
            self.subject_id,
            self.regime,
            self.version,
            self.restricted,
            sorted(self.objections),
            sorted(self.restriction_allows),
            sorted(self.consents),
            self.open_verified_request,
        )
        object.__setattr__(self, "cache_key", repr(fields))

    @classmethod
    def unrestricted(cls, subject_id: str, regime: str) -> SubjectState:
        """A subject with no ledger entries: no objection, restriction, consent or request."""
        return cls(subject_id=subject_id, regime=regime)


class Decision(NamedTuple):
    """Allow or deny, every reason, and the transfer mechanism an allowed read uses.

    A named tuple rather than a dataclass: it is built on every first-time
    decision, and a tuple is the cheapest immutable value Python builds.
    """

    allowed: bool
    reasons: tuple[Reason, ...]
    #: The mechanism the data crosses a border under; None without a transfer or when denied.
    mechanism: str | None
    policy_version: str

    @property
    def texts(self) -> tuple[str, ...]:
        """The reasons as the short sentences people read."""
        return tuple(reason.text for reason in self.reasons)

    @property
    def failures(self) -> tuple[Reason, ...]:
        """The failed checks: empty exactly when the read is allowed."""
        return tuple(reason for reason in self.reasons if not reason.passed)


_new_decision = tuple.__new__


def compile_policy(policy: Policy, today: dt.date) -> CompiledPolicy:
    """The lookup tables :func:`decide` reads, for ``policy`` as of ``today``."""
    return CompiledPolicy.build(policy, today)


def _unknown(what: str, got: str, declared: frozenset[str]) -> UnknownPolicyElement:
    return UnknownPolicyElement(what, got, sorted(declared))


def decide(
    compiled: CompiledPolicy,
    actor: Actor,
    purpose: str,
    category: str,
    data_region: str,
    subject: SubjectState,
) -> Decision:
    """Whether ``actor`` may read ``category`` of ``subject`` in ``data_region`` for ``purpose``."""
    # (2)-(3) kind, need to know, and transfer or contract: what does not depend on the
    # subject is one lookup in the hot tables, else worked out (or refused) by verdict().
    role, kind = actor.role, actor.kind
    if kind in STAFF_KINDS:
        key = (role, kind, purpose, category, data_region, actor.entity, actor.region)
        static = compiled.staff.get(key)
    elif kind == "processor":
        static = compiled.processor_reads.get((role, purpose, category, data_region, actor.entity))
    else:
        static = None
    if static is None:
        static = compiled.verdict(
            role, kind, actor.entity, actor.region, purpose, category, data_region
        )
    if subject.regime not in compiled.regimes:
        raise _unknown("regime", subject.regime, compiled.regimes)
    # ``allowed`` is kept as the reasons are gathered, so no second pass is needed.
    allowed, reasons, mechanism = static
    # (1) revocation, listed first whatever else holds
    if actor.revoked:
        allowed, reasons = False, (R.REVOKED, *reasons)
    # (3) subjects and their agents read only the subject they are bound to
    own_data = False
    if kind in SELF_KINDS:
        own_data = actor.binding is not None and actor.binding == subject.subject_id
        reasons += (R.OWN_DATA if own_data else R.NOT_OWN_DATA,)
        allowed = allowed and own_data

    # (4) the request machinery reads only for an open, verified request
    if role == RIGHTS_ROLE:
        reasons += (R.REQUEST_OPEN if subject.open_verified_request else R.NO_REQUEST,)
        allowed = allowed and subject.open_verified_request

    # (5) the subject's objections, restriction and consent
    if not own_data:
        if subject.objections:
            for rule in compiled.objections[purpose]:
                if rule.objected_to in subject.objections:
                    reasons += (rule.reason,)
                    allowed = allowed and rule.reason.passed
        if subject.restricted:
            still, blocked = compiled.restriction[purpose]
            allows = purpose in subject.restriction_allows
            reasons += (still if allows else blocked,)
            allowed = allowed and allows
        grounded_on_consent = compiled.consent.get(subject.regime)
        if grounded_on_consent is not None and purpose in grounded_on_consent:
            given, missing = grounded_on_consent[purpose]
            consented = purpose in subject.consents
            reasons += (given if consented else missing,)
            allowed = allowed and consented

    # tuple.__new__ skips the named tuple's Python-level constructor: this is the hot path.
    return _new_decision(
        Decision, (allowed, reasons, mechanism if allowed else None, compiled.policy_version)
    )


def has_standing(compiled: CompiledPolicy, actor: Actor, subject_id: str, home_region: str) -> bool:
    """Whether ``actor`` may read the subject ``subject_id`` (data in ``home_region``) for
    some purpose, leaving aside what the subject's own ledgers say.

    Subjects and their agents have standing towards the subject they are bound to
    only. Any other principal has it when, for at least one purpose and category
    the purpose uses, every check that does not depend on the subject passes for
    the subject's region: kind, role, need to know, transfer or contract (steps
    (1)-(3) of :func:`decide`). The subject's objections, restriction, consents
    and requests (steps (4)-(5)) do not count: standing that depended on them
    would itself reveal them.
    """
    if actor.revoked:
        return False
    if actor.kind in SELF_KINDS:
        return actor.binding is not None and actor.binding == subject_id
    return _reaches(compiled, actor, home_region)


def _reaches(compiled: CompiledPolicy, actor: Actor, region: str) -> bool:
    """Whether some read of data in ``region`` passes every subject-independent check."""
    if region not in compiled.regions:  # a region the policy no longer declares: fail closed
        return False
    return any(
        compiled.verdict(
            actor.role, actor.kind, actor.entity, actor.region, purpose, category, region
        )[0]
        for purpose, categories in sorted(compiled.purpose_categories.items())
        for category in sorted(categories)
    )


class DecisionCache:
    """A bounded map of finished decisions, in two generations.

    New entries go into the young generation; when it holds half of ``maxsize``,
    it becomes the old one and the previous old one is dropped whole. An entry
    found in the old generation moves back to the young one, so decisions that
    keep being asked for stay while the rest age out. Eviction is one copy of a
    generation per ``maxsize / 2`` new entries; dropping entries one by one from
    the front of a dict would instead scan a growing run of dead slots each time.

    Keys name the policy version and date, every field of the actor and of the
    subject's state, and the request, so an entry can only ever be served for
    exactly the inputs that produced it.
    """

    def __init__(self, maxsize: int = 100_000) -> None:
        if maxsize < 2:
            raise ValueError(f"got maxsize {maxsize}, expected at least 2")
        self.maxsize = maxsize
        self._generation = maxsize // 2
        self.young: dict[DecisionKey, Decision] = {}
        self.old: dict[DecisionKey, Decision] = {}

    def __len__(self) -> int:
        return len(self.young) + len(self.old)

    def clear(self) -> None:
        self.young.clear()
        self.old = {}

    def put(self, key: DecisionKey, decision: Decision) -> None:
        young = self.young
        if len(young) >= self._generation:
            # The young dict is cleared in place, never replaced: Decider holds on to it.
            self.old = young.copy()
            young.clear()
        young[key] = decision


DecisionKey = tuple[str, str, str, str, str, str]
#: (role, kind, entity, region, data region).
ReachKey = tuple[str, str, str | None, str | None, str]
DecideFunction = Callable[[Actor, str, str, str, SubjectState], Decision]


class Decider:
    """:func:`decide` with a :class:`DecisionCache` in front, for one compiled policy.

    ``decider.decide(actor, purpose, category, data_region, subject)`` answers like
    :func:`decide`, from the cache when the same inputs were decided before. It is
    a closure over the cache and the tables rather than a method, so that a cache
    hit costs one tuple and one dict lookup: this is the path that repeated reads
    take, at over a million decisions a second.
    """

    decide: DecideFunction

    def __init__(self, compiled: CompiledPolicy, cache: DecisionCache | None = None) -> None:
        self.cache = cache if cache is not None else DecisionCache()
        self.compiled = compiled
        self.decide = _cached(compiled, self.cache)
        #: The policy, and (role, kind, entity, region, data region) → whether some read
        #: there passes: one pair swapped in one assignment, so a lookup never mixes two
        #: policies. Bounded by the policy: roles x kinds x placements x regions.
        self._reach: tuple[CompiledPolicy, dict[ReachKey, bool]] = (compiled, {})

    def use(self, compiled: CompiledPolicy) -> None:
        """Switch to a new policy (or day); earlier entries can no longer match, so drop them."""
        if compiled.version != self.compiled.version:
            self.cache.clear()
        self.compiled = compiled
        self.decide = _cached(compiled, self.cache)
        self._reach = (compiled, {})

    def has_standing(self, actor: Actor, subject_id: str, home_region: str) -> bool:
        """:func:`has_standing`, its policy part looked up once per placement and region."""
        if actor.revoked or actor.kind in SELF_KINDS:
            return has_standing(self.compiled, actor, subject_id, home_region)
        compiled, reach = self._reach
        key = (actor.role, actor.kind, actor.entity, actor.region, home_region)
        found = reach.get(key)
        if found is None:
            found = reach[key] = _reaches(compiled, actor, home_region)
        return found


def _cached(compiled: CompiledPolicy, cache: DecisionCache) -> DecideFunction:
    version, hit, put = compiled.version, cache.young.get, cache.put

    def cached_decide(
        actor: Actor, purpose: str, category: str, data_region: str, subject: SubjectState
    ) -> Decision:
        key = (actor.cache_key, purpose, category, data_region, subject.cache_key, version)
        found = hit(key)
        if found is None:
            found = cache.old.pop(key, None)  # asked for again: back to the young generation
            if found is None:
                found = decide(compiled, actor, purpose, category, data_region, subject)
            put(key, found)
        return found

    return cached_decide
